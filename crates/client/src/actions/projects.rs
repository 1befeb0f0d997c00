//! Folders made, brought onto this machine, and shared: `new`, `get`, `share`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use girofle_base::error::{Error, Result};

use super::folder_name;
use crate::api::{self, ApiError, Membership, Project};
use crate::config::{self};
use crate::folders::{self, Folder, Locked};
use crate::names;
use crate::session::{Client, Found, Notes};
use crate::tr;
use crate::work::{Pushed, SERVER_MAIN, Work};

/// How long a refused `get` waits for the other machine to send.
const WAIT: Duration = Duration::from_secs(60);

/// How one try of `get` ended.
enum Got {
    Done(Notes),
    Blocked(Blocked),
}

/// A `get` refused because of changes never sent.
struct Blocked {
    /// What the person is told.
    refusal: String,
    /// The folder's address.
    url: String,
    /// The states that block, each as read: its ref and commit.
    watched: Vec<(String, String)>,
    /// The machines asked to send.
    asked: Vec<String>,
    /// Those of them that run a service answering requests.
    listening: Vec<String>,
}

impl Client {
    /// `new DIR`: makes DIR a saved folder.
    pub fn new_folder(&self, dir: &Path) -> Result<Notes> {
        let dir = config::absolute(dir)?;
        if dir.exists() && !dir.is_dir() {
            return Err(Error::usage(tr!(
                "not-a-folder",
                dir = dir.display().to_string()
            )));
        }
        std::fs::create_dir_all(&dir)?;
        let dir = dir.canonicalize()?;
        let home = std::env::var_os("HOME").map(PathBuf::from);
        if dir.parent().is_none() || home.and_then(|h| h.canonicalize().ok()).as_ref() == Some(&dir)
        {
            return Err(Error::usage(tr!(
                "too-wide",
                dir = dir.display().to_string()
            )));
        }
        let mut registry = Locked::open(&self.data_dir)?;
        if let Some(other) = registry.registry.overlapping(&dir) {
            return Err(Error::usage(if other.dir == dir {
                tr!("already-saved-folder", dir = dir.display().to_string())
            } else if dir.starts_with(&other.dir) {
                tr!(
                    "inside-saved-folder",
                    dir = dir.display().to_string(),
                    other = other.dir.display().to_string()
                )
            } else {
                tr!(
                    "holds-saved-folder",
                    dir = dir.display().to_string(),
                    other = other.dir.display().to_string()
                )
            }));
        }
        let folder_name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "folder".into());
        let (project, clash) = self.create_project(&folder_name, &registry)?;
        if let Some(bound) = registry.registry.by_id(project.id) {
            return Err(Error::failed(tr!(
                "already-here-at",
                folder = project.path_with_namespace.clone(),
                dir = bound.dir.display().to_string()
            )));
        }
        let history = folders::history_dir(&self.data_dir, project.id);
        if history.exists() {
            std::fs::remove_dir_all(&history)?;
        }
        std::fs::create_dir_all(history.parent().expect("histories/"))?;
        let git = self.git(project.id, &dir);
        git.run(&["init", "--quiet"])?;
        git.run(&["config", "core.bare", "false"])?;
        git.run(&["symbolic-ref", "HEAD", "refs/heads/main"])?;
        git.run(&["add", "--all", "--force", "--", ":/"])?;
        git.run(&[
            "commit",
            "--quiet",
            "--allow-empty",
            "-m",
            &tr!("first-version"),
        ])?;
        let folder = Folder {
            id: project.id,
            path: project.path_with_namespace.clone(),
            dir: dir.clone(),
            written: None,
            since: None,
            aside: None,
            pending: vec![],
        };
        registry.put(folder.clone())?;
        let mut work = Work {
            client: self,
            registry,
            folder,
            git,
            online: true,
        };
        let mut notes = Notes::default();
        if clash {
            notes.say(tr!(
                "name-clash",
                name = format!("{folder_name:?}"),
                folder = project.path_with_namespace.clone()
            ));
        }
        match work.send(true)? {
            Pushed::Done => notes.say(tr!(
                "new-sent",
                dir = dir.display().to_string(),
                folder = project.path_with_namespace.clone()
            )),
            Pushed::Offline => notes.say(tr!("new-offline", dir = dir.display().to_string())),
            other => {
                return Err(Error::failed(tr!(
                    "new-refused",
                    why = format!("{other:?}")
                )));
            }
        }
        Ok(notes)
    }

    /// Makes the project of a new folder named `folder_name`: a name and a
    /// path GitLab takes, numbered while the person's own projects hold them
    /// already. True with it when a number was needed.
    /// A folder of the person's on the server of the same name, not on this
    /// machine, is taken for this very folder made on another machine: `get`
    /// is the way, and nothing is made.
    fn create_project(&self, folder_name: &str, registry: &Locked) -> Result<(Project, bool)> {
        let name = names::project_name(folder_name);
        let path = names::project_path(folder_name);
        for n in 1..=30 {
            let (name, path) = names::numbered(&name, &path, n);
            match self.api.create_folder(&name, &path, folder_name) {
                Ok(project) => return Ok((project, n > 1)),
                Err(ApiError::Status(400, body)) if api::is_taken(&body) => {
                    let own = format!("{}/", self.config.person);
                    let elsewhere = self.api.folders()?.into_iter().find(|p| {
                        p.path_with_namespace.starts_with(&own)
                            && (p.path.eq_ignore_ascii_case(&path) || p.name == name)
                            && registry.registry.by_id(p.id).is_none()
                    });
                    if let Some(other) = elsewhere {
                        return Err(Error::usage(tr!(
                            "exists-elsewhere",
                            name = format!("{:?}", other.display_name()),
                            folder = other.path_with_namespace.clone(),
                            path = other.path.clone()
                        )));
                    }
                    continue;
                }
                Err(ApiError::Status(400, body)) => {
                    return Err(Error::failed(tr!(
                        "name-refused",
                        name = format!("{folder_name:?}"),
                        why = api::explain(&body).unwrap_or_else(|| tr!("name-refused-why"))
                    )));
                }
                Err(error) => return Err(error.into()),
            }
        }
        Err(Error::failed(tr!(
            "too-many-named",
            name = format!("{folder_name:?}")
        )))
    }

    /// `get FOLDER [DIR]`: brings a folder of the person's inventory here.
    /// Refused while another machine holds changes that never reached the
    /// server, unless `take_over` (the caller has asked the person).
    ///
    /// The machines holding those changes are asked to send them (a request
    /// left on the server); while one of them runs a service that answers,
    /// `get` waits up to a minute for them, saying so through `waiting`
    /// once, and goes on by itself when they arrive.
    pub fn get(
        &self,
        name: &str,
        dir: Option<&Path>,
        take_over: bool,
        waiting: &mut dyn FnMut(String),
    ) -> Result<Notes> {
        let deadline = Instant::now() + WAIT;
        let mut told = false;
        loop {
            let blocked = match self.get_once(name, dir, take_over)? {
                Got::Done(notes) => return Ok(notes),
                Got::Blocked(blocked) => blocked,
            };
            let machines = blocked.listening.join(", ");
            if blocked.listening.is_empty() {
                let asked = blocked.asked.join(", ");
                let mut text = blocked.refusal;
                if !asked.is_empty() {
                    text.push('\n');
                    text.push_str(&tr!("asked-later", machines = asked));
                }
                return Err(Error::failed(text));
            }
            if Instant::now() >= deadline {
                return Err(Error::failed(format!(
                    "{}\n{}",
                    blocked.refusal,
                    tr!("asked-in-vain", machines = machines)
                )));
            }
            if !told {
                waiting(tr!("asked-waiting", machines = machines));
                told = true;
            }
            self.wait_for_change(&blocked, deadline)?;
        }
    }

    /// Waits until one of the machine states `blocked` watches moves on the
    /// server (or `deadline`), asking the server every two seconds for those
    /// refs alone: nothing is brought here meanwhile, nothing is locked.
    fn wait_for_change(&self, blocked: &Blocked, deadline: Instant) -> Result<()> {
        let scratch = tempfile::tempdir_in(&self.data_dir)?;
        let git = self.git_at(scratch.path(), scratch.path());
        git.run(&["init", "--quiet"])?;
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_secs(2));
            let mut args = vec!["ls-remote", blocked.url.as_str()];
            args.extend(
                blocked
                    .watched
                    .iter()
                    .map(|(reference, _)| reference.as_str()),
            );
            let output = git.output(&args)?;
            if !output.ok {
                // Offline for a moment: asked again at the next turn.
                continue;
            }
            let now: Vec<(String, String)> = output
                .stdout
                .lines()
                .filter_map(|line| line.split_once('\t'))
                .map(|(commit, reference)| (reference.to_string(), commit.to_string()))
                .collect();
            let moved = blocked.watched.iter().any(|watched| !now.contains(watched));
            if moved {
                return Ok(());
            }
        }
        Ok(())
    }

    /// One try of `get`: done, or refused because of changes never sent
    /// (the machines holding them asked to send).
    fn get_once(&self, name: &str, dir: Option<&Path>, take_over: bool) -> Result<Got> {
        let project = self.find_project(name)?;
        let registry = Locked::open(&self.data_dir)?;
        if let Some(bound) = registry.registry.by_id(project.id).cloned() {
            if bound.dir.symlink_metadata().is_ok() {
                return Err(Error::usage(tr!(
                    "one-per-machine",
                    folder = project.path_with_namespace.clone(),
                    dir = bound.dir.display().to_string()
                )));
            }
            return self.remake(registry, bound, dir).map(Got::Done);
        }
        let dir = match dir {
            Some(dir) => config::absolute(dir)?,
            // The name it has on the machine where it was made.
            None => std::env::current_dir()?.join(folder_name(&project)),
        };
        if dir.exists() {
            let empty = dir.is_dir() && std::fs::read_dir(&dir)?.next().is_none();
            if !empty {
                return Err(Error::usage(tr!(
                    "not-empty",
                    dir = dir.display().to_string()
                )));
            }
        }
        let parent = dir.parent().unwrap_or(Path::new("/"));
        let canonical = parent
            .canonicalize()
            .map(|p| p.join(dir.file_name().unwrap_or_default()))
            .unwrap_or(dir.clone());
        if let Some(other) = registry.registry.overlapping(&canonical) {
            return Err(Error::usage(tr!(
                "around-saved-folder",
                dir = dir.display().to_string(),
                other = other.dir.display().to_string()
            )));
        }
        let history = folders::history_dir(&self.data_dir, project.id);
        if history.exists() {
            // Left by an earlier `get` that did not finish: nothing of the
            // person's is in it that the server does not have.
            std::fs::remove_dir_all(&history)?;
        }
        std::fs::create_dir_all(history.parent().expect("histories/"))?;
        let created = !canonical.exists();
        std::fs::create_dir_all(&canonical)?;
        let canonical = canonical.canonicalize()?;
        let git = self.git(project.id, &canonical);
        git.run(&["init", "--quiet"])?;
        git.run(&["config", "core.bare", "false"])?;
        git.run(&["symbolic-ref", "HEAD", "refs/heads/main"])?;
        let url = self.url(&project.path_with_namespace);
        let mut work = Work {
            client: self,
            registry,
            folder: Folder {
                id: project.id,
                path: project.path_with_namespace.clone(),
                dir: canonical.clone(),
                written: None,
                since: None,
                aside: None,
                pending: vec![],
            },
            git,
            online: false,
        };
        let cleanup = |history: &Path| {
            let _ = std::fs::remove_dir_all(history);
            if created {
                let _ = std::fs::remove_dir(&canonical);
            }
        };
        match work.fetch() {
            Ok(true) => {}
            Ok(false) => {
                cleanup(&history);
                return Err(Error::failed(tr!("unreachable-at", url = url.clone())));
            }
            Err(error) => {
                cleanup(&history);
                return Err(error);
            }
        }
        // Before anything is taken over or written.
        if work.git.resolve(SERVER_MAIN)?.is_some()
            && let Err(error) = work.refuse_unwritable(SERVER_MAIN)
        {
            cleanup(&history);
            return Err(error);
        }
        let me = self.my_ref();
        let states = work.server_states()?;
        let blockers: Vec<&Found> = states
            .iter()
            .filter(|f| f.reference != me && f.state.blocks())
            .collect();
        let mut notes = Notes::default();
        if !blockers.is_empty() {
            if !take_over {
                let mut blocked = Blocked {
                    refusal: String::new(),
                    url: url.clone(),
                    watched: vec![],
                    asked: vec![],
                    listening: vec![],
                };
                for found in &blockers {
                    // A request that cannot be left changes nothing of the refusal.
                    if work.ask_to_send(found).unwrap_or(false) {
                        blocked.asked.push(found.state.machine.clone());
                    }
                    if work.is_listening(found)? {
                        blocked.listening.push(found.state.machine.clone());
                    }
                    blocked
                        .watched
                        .push((found.reference.clone(), found.commit.clone()));
                }
                cleanup(&history);
                let lines: Vec<String> = blockers
                    .iter()
                    .map(|f| {
                        let what = f.unsent_words(&self.config.person);
                        if f.state.person == self.config.person {
                            tr!("never-sent-yours", what = what)
                        } else {
                            tr!("never-sent-theirs", what = what)
                        }
                    })
                    .collect();
                blocked.refusal = format!("{}\n{}", lines.join("\n"), tr!("or-take-over"));
                return Ok(Got::Blocked(blocked));
            }
            match work.take_over(&blockers)? {
                Pushed::Done => {
                    for found in &blockers {
                        notes.say(tr!(
                            "took-over",
                            what = found.unsent_words(&self.config.person),
                            machine = found.state.machine.clone()
                        ));
                    }
                }
                Pushed::Offline => {
                    cleanup(&history);
                    return Err(Error::failed(tr!("unreachable")));
                }
                _ => {
                    cleanup(&history);
                    return Err(Error::failed(tr!("take-over-raced")));
                }
            }
        }
        if work.git.resolve(SERVER_MAIN)?.is_some() {
            work.git
                .run(&["update-ref", "refs/heads/main", SERVER_MAIN])?;
            work.git.run(&["read-tree", "--reset", "-u", "HEAD"])?;
        }
        // A state this machine left on the server before (an earlier copy of
        // the folder here) is replaced, not acted upon: this copy is new.
        if let Some(own) = work
            .server_states()?
            .into_iter()
            .find(|f| f.reference == me)
        {
            work.folder.written = Some(own.commit);
        }
        work.registry.put(work.folder.clone())?;
        work.record_state(&mut notes)?;
        notes.say(tr!(
            "got-here",
            folder = project.path_with_namespace.clone(),
            dir = canonical.display().to_string()
        ));
        Ok(Got::Done(notes))
    }

    /// A folder bound here whose directory was removed: remade (at `dir`, or
    /// where it was) from the versions kept on this machine, unsent ones
    /// included.
    fn remake(&self, registry: Locked, mut folder: Folder, dir: Option<&Path>) -> Result<Notes> {
        let old = folder.dir.clone();
        let target = match dir {
            Some(dir) => config::absolute(dir)?,
            None => old.clone(),
        };
        if target.exists() && std::fs::read_dir(&target)?.next().is_some() {
            return Err(Error::usage(tr!(
                "not-empty",
                dir = target.display().to_string()
            )));
        }
        std::fs::create_dir_all(&target)?;
        let target = target.canonicalize()?;
        if let Some(other) = registry.registry.folders.iter().find(|f| {
            f.id != folder.id && (target.starts_with(&f.dir) || f.dir.starts_with(&target))
        }) {
            return Err(Error::usage(tr!(
                "around-saved-folder",
                dir = target.display().to_string(),
                other = other.dir.display().to_string()
            )));
        }
        folder.dir = target.clone();
        let git = self.git(folder.id, &target);
        let has_head = git.resolve("HEAD")?.is_some();
        let mut work = Work {
            client: self,
            registry,
            folder,
            git,
            online: false,
        };
        if has_head {
            work.refuse_unwritable("HEAD")?;
            work.git.run(&["read-tree", "--reset", "-u", "HEAD"])?;
        }
        work.registry.put(work.folder.clone())?;
        let mut notes = Notes::default();
        notes.say(tr!(
            "remade",
            folder = work.folder.path.clone(),
            old = old.display().to_string(),
            dir = target.display().to_string()
        ));
        work.catch_up(&mut notes)?;
        work.record_state(&mut notes)?;
        Ok(notes)
    }

    /// `share FOLDER PERSON`: lets another person retrieve the folder.
    pub fn share(&self, name: &str, person: &str) -> Result<Notes> {
        let project = self.find_project(name)?;
        let user = self
            .api
            .user_named(person)?
            .ok_or_else(|| Error::usage(tr!("no-such-person", person = format!("{person:?}"))))?;
        let mut notes = Notes::default();
        let folder = &project.path_with_namespace;
        let who = &user.username;
        match self.api.add_member(project.id, user.id)? {
            Membership::Added => {
                notes.say(tr!("shared", who = who.clone(), folder = folder.clone()))
            }
            Membership::Already(level) if level >= api::MAINTAINER => notes.say(tr!(
                "shared-already",
                who = who.clone(),
                folder = folder.clone()
            )),
            Membership::Already(_) => {
                self.api.make_maintainer(project.id, user.id)?;
                notes.say(tr!(
                    "shared-now-sends",
                    who = who.clone(),
                    folder = folder.clone()
                ));
            }
        }
        Ok(notes)
    }
}
