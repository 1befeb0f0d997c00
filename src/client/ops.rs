//! The actions behind the subcommands. Each returns what happened, in plain
//! words for the person (`notes`) and as data; the binary prints and asks.
//!
//! Every action on a bound folder starts by catching up with the server when
//! it can be reached: the machines' states are fetched, a take-over of this
//! machine is acted upon (its work is kept aside, never lost), and this
//! machine's own state is recorded if it changed. Offline, saving still
//! works; the server learns of the changes when the machine is back online.

use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use super::api::{Api, ApiError, Project};
use super::config::{self, Config, Location};
use super::folders::{self, Folder, Locked};
use super::git::{self, Git};
use super::state::{self, Kind, MachineState};
use super::tree;
use super::words;
use crate::error::{Error, Result};

/// Where the server's branch is kept locally.
const SERVER_MAIN: &str = "refs/remotes/origin/main";
/// Where the server's machine states are kept locally.
const SERVER_STATES: &str = "refs/remotes/origin-girofle/machines/";

/// A configured client: the configuration, the token, the API.
pub struct Client {
    /// Where the configuration is.
    pub location: Location,
    /// The configuration.
    pub config: Config,
    /// Where the client keeps its data.
    pub data_dir: PathBuf,
    token: String,
    api: Api,
}

/// What `setup` is given.
#[derive(Debug, Default)]
pub struct SetupArgs {
    /// The server's URL.
    pub server: String,
    /// The token itself, to be stored in a file of the client's (0600).
    pub token: Option<String>,
    /// Or a file already holding it.
    pub token_file: Option<PathBuf>,
    /// This machine's name (the host name by default).
    pub machine: Option<String>,
}

/// Writes `client.toml` after checking the token with the server.
pub fn setup(location: &Location, args: &SetupArgs) -> Result<Config> {
    let server = args.server.trim().trim_end_matches('/').to_string();
    if !(server.starts_with("http://") || server.starts_with("https://")) {
        return Err(Error::usage(format!(
            "{server:?} is not a server address (it starts with https:// or http://)"
        )));
    }
    let machine = args
        .machine
        .clone()
        .unwrap_or_else(config::default_machine_name);
    config::check_machine_name(&machine)?;
    let config_dir = location
        .file
        .parent()
        .unwrap_or(Path::new("/"))
        .to_path_buf();
    let (token, token_file) = match (&args.token, &args.token_file) {
        (Some(token), _) => (token.trim().to_string(), config_dir.join("token")),
        (None, Some(file)) => {
            let file = config::absolute(file)?;
            let text = std::fs::read_to_string(&file).map_err(|error| {
                Error::usage(format!("cannot read {}: {error}", file.display()))
            })?;
            (text.trim().to_string(), file)
        }
        (None, None) => return Err(Error::usage("the access token is needed")),
    };
    if token.is_empty() {
        return Err(Error::usage("the access token is empty"));
    }
    let user = Api::new(&server, &token)
        .current_user()
        .map_err(|error| Error::failed(format!("{server}: {error}")))?;
    std::fs::create_dir_all(&config_dir)?;
    if args.token.is_some() {
        crate::atomic::write(&token_file, format!("{token}\n").as_bytes(), 0o600)?;
    }
    let config = Config {
        server,
        token_file,
        machine,
        email: user
            .email
            .clone()
            .filter(|e| !e.is_empty())
            .unwrap_or_else(|| format!("{}@girofle.invalid", user.username)),
        name: if user.name.is_empty() {
            user.username.clone()
        } else {
            user.name.clone()
        },
        person: user.username,
        data_dir: None,
    };
    config.save(location)?;
    Ok(config)
}

/// What an action did, in plain words.
#[derive(Debug, Default)]
pub struct Notes {
    /// One line each, for the person.
    pub lines: Vec<String>,
}

impl Notes {
    fn say(&mut self, line: impl Into<String>) {
        self.lines.push(line.into());
    }
}

/// The outcome of pushing to the server.
#[derive(Debug, PartialEq, Eq)]
enum Pushed {
    Done,
    Offline,
    /// A machine state moved since it was read (the compare-and-swap lost).
    Stale,
    /// The server has versions this machine lacks.
    Behind,
}

/// A machine state as found on the server.
#[derive(Debug, Clone)]
pub struct Found {
    /// The state commit.
    pub commit: String,
    /// The ref on the server.
    pub reference: String,
    /// The state.
    pub state: MachineState,
}

impl Found {
    /// "your changes on laptop-2 since 14:05", or "bob's changes on …".
    pub fn unsent_words(&self, me: &str) -> String {
        let whose = if self.state.person == me {
            "your".to_string()
        } else {
            format!("{}'s", self.state.person)
        };
        let since = self
            .state
            .since
            .map(|at| format!(" since {}", words::when(at)))
            .unwrap_or_default();
        format!("{whose} changes on {}{since}", self.state.machine)
    }
}

/// One folder being worked on.
struct Work<'a> {
    client: &'a Client,
    registry: Locked,
    folder: Folder,
    git: Git,
    online: bool,
}

impl Client {
    /// Opens the configuration and reads the token.
    pub fn open(location: Location) -> Result<Client> {
        let config = Config::load(&location)?;
        let token = config.token()?;
        let data_dir = config.data_dir(&location)?;
        let api = Api::new(&config.server, &token);
        Ok(Client {
            location,
            config,
            data_dir,
            token,
            api,
        })
    }

    fn url(&self, project_path: &str) -> String {
        format!(
            "{}/{project_path}.git",
            self.config.server.trim_end_matches('/')
        )
    }

    fn git(&self, id: u64, dir: &Path) -> Git {
        Git::new(
            &folders::history_dir(&self.data_dir, id),
            dir,
            &self.config.name,
            &self.config.email,
        )
        .with_token(&self.token)
    }

    fn my_ref(&self) -> String {
        state::machine_ref(&self.config.person, &self.config.machine)
    }

    /// The folder that holds `path` (the current directory by default).
    fn work(&self, path: Option<&Path>) -> Result<Work<'_>> {
        let path = match path {
            Some(path) => config::absolute(path)?,
            None => std::env::current_dir()?,
        };
        let path = path.canonicalize().unwrap_or(path);
        let registry = Locked::open(&self.data_dir)?;
        let folder = registry
            .registry
            .containing(&path)
            .cloned()
            .ok_or_else(|| {
                Error::usage(format!(
                    "{} is not a saved folder: go into one (or name it with --folder), \
                     or make it one with `girofle-client new`",
                    path.display()
                ))
            })?;
        if !folder.dir.is_dir() {
            return Err(Error::failed(format!(
                "the saved folder {} is missing: was it moved or renamed? \
                 Put it back where it was",
                folder.dir.display()
            )));
        }
        let git = self.git(folder.id, &folder.dir);
        Ok(Work {
            client: self,
            registry,
            folder,
            git,
            online: false,
        })
    }

    /// Finds a folder of the person's inventory by name (`report`) or full
    /// name (`alice/report`); the server refuses one the person may not see.
    fn find_project(&self, name: &str) -> Result<Project> {
        let name = name.trim().trim_end_matches('/');
        if name.contains('/') {
            return match self.api.project(name) {
                Ok(project) if project.is_folder() => Ok(project),
                Ok(_) => Err(Error::usage(format!(
                    "{name} is on the server but is not a saved folder"
                ))),
                Err(ApiError::Status(404 | 403, _)) => Err(Error::failed(format!(
                    "the server refused: {name} does not exist or you have no access to it"
                ))),
                Err(error) => Err(error.into()),
            };
        }
        let all = self.api.folders()?;
        let mut matching: Vec<Project> = all
            .into_iter()
            .filter(|p| p.path.eq_ignore_ascii_case(name) || p.name == name)
            .collect();
        if matching.len() > 1 {
            let own: Vec<Project> = matching
                .iter()
                .filter(|p| {
                    p.path_with_namespace
                        .split('/')
                        .next()
                        .is_some_and(|ns| ns == self.config.person)
                })
                .cloned()
                .collect();
            if own.len() == 1 {
                matching = own;
            }
        }
        match matching.len() {
            0 => Err(Error::usage(format!(
                "you have no saved folder named {name:?} (`girofle-client get` without a name lists them)"
            ))),
            1 => Ok(matching.remove(0)),
            _ => Err(Error::usage(format!(
                "several folders are named {name:?}: {}; name one of them in full",
                matching
                    .iter()
                    .map(|p| p.path_with_namespace.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// The person's saved folders on the server.
    pub fn inventory(&self) -> Result<Vec<Project>> {
        Ok(self.api.folders()?)
    }

    /// `new DIR`: makes DIR a saved folder.
    pub fn new_folder(&self, dir: &Path) -> Result<Notes> {
        let dir = config::absolute(dir)?;
        if dir.exists() && !dir.is_dir() {
            return Err(Error::usage(format!("{} is not a folder", dir.display())));
        }
        std::fs::create_dir_all(&dir)?;
        let dir = dir.canonicalize()?;
        let home = std::env::var_os("HOME").map(PathBuf::from);
        if dir.parent().is_none() || home.and_then(|h| h.canonicalize().ok()).as_ref() == Some(&dir)
        {
            return Err(Error::usage(format!(
                "{} is too wide to be one saved folder: choose a folder inside it",
                dir.display()
            )));
        }
        let mut registry = Locked::open(&self.data_dir)?;
        if let Some(other) = registry.registry.overlapping(&dir) {
            return Err(Error::usage(if other.dir == dir {
                format!("{} is already a saved folder", dir.display())
            } else if dir.starts_with(&other.dir) {
                format!(
                    "{} is inside the saved folder {}: it is saved with it already",
                    dir.display(),
                    other.dir.display()
                )
            } else {
                format!(
                    "{} holds the saved folder {}: a saved folder cannot hold another",
                    dir.display(),
                    other.dir.display()
                )
            }));
        }
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "folder".into());
        let path = slug(&name);
        let project = match self.api.create_folder(&name, &path) {
            Ok(project) => project,
            Err(ApiError::Status(400, body)) if body.contains("taken") => {
                return Err(Error::usage(format!(
                    "you already have a folder named {path:?} on the server: \
                     bring it here with `girofle-client get {path}`, or rename this folder"
                )));
            }
            Err(error) => return Err(error.into()),
        };
        if let Some(bound) = registry.registry.by_id(project.id) {
            return Err(Error::failed(format!(
                "{} is already on this machine at {}",
                project.path_with_namespace,
                bound.dir.display()
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
        git.run(&["commit", "--quiet", "--allow-empty", "-m", "First version"])?;
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
        match work.send(true)? {
            Pushed::Done => notes.say(format!(
                "{} is now a saved folder ({} on the server); its first version is sent",
                dir.display(),
                project.path_with_namespace
            )),
            Pushed::Offline => notes.say(format!(
                "{} is now a saved folder, but the server could not be reached to send \
                 its first version: run `girofle-client sync` later",
                dir.display()
            )),
            other => {
                return Err(Error::failed(format!(
                    "the server did not take the first version ({other:?})"
                )));
            }
        }
        Ok(notes)
    }

    /// `save [MESSAGE]`: a new version of every file as it is now.
    pub fn save(&self, folder: Option<&Path>, message: Option<&str>) -> Result<Notes> {
        let mut work = self.work(folder)?;
        let mut notes = Notes::default();
        if work.catch_up(&mut notes)? {
            return Err(Error::failed(notes.lines.join("\n")));
        }
        work.refuse_while_pending()?;
        let default = format!("Saved on {}", self.config.machine);
        match work.save_version(message.unwrap_or(&default))? {
            0 => notes.say("Nothing changed since the last version."),
            n => notes.say(format!(
                "Saved a new version ({} changed).",
                words::count(n, "file", "files")
            )),
        }
        work.record_state(&mut notes)?;
        if !work.online {
            notes.say(
                "The server cannot be reached: it will know of this version when this machine is back online.",
            );
        }
        Ok(notes)
    }

    /// `sync`: sends the saved versions (saving what is not saved yet), or
    /// brings in the server's when this machine has nothing new.
    pub fn sync(&self, folder: Option<&Path>) -> Result<Notes> {
        let mut work = self.work(folder)?;
        let mut notes = Notes::default();
        if work.catch_up(&mut notes)? {
            return Err(Error::failed(notes.lines.join("\n")));
        }
        if !work.online {
            return Err(Error::failed(
                "the server cannot be reached: nothing was sent; your versions are safe here",
            ));
        }
        work.refuse_while_pending()?;
        let local = work.local()?;
        let server = work.git.resolve(SERVER_MAIN)?;
        let ahead = work.server_ahead()?;
        if ahead > 0 {
            if local.unsaved.is_empty() && local.unsent == 0 {
                work.git.run(&["reset", "--quiet", "--hard", SERVER_MAIN])?;
                notes.say(format!(
                    "Brought in {} from the server.",
                    words::count(ahead, "new version", "new versions")
                ));
                work.record_state(&mut notes)?;
                return Ok(notes);
            }
            return Err(Error::failed(format!(
                "the server has {} this machine lacks, and this machine has changes the server lacks: \
                 run `girofle-client resolve` to bring them together (nothing will be lost)",
                words::count(ahead, "version", "versions")
            )));
        }
        if !local.unsaved.is_empty() {
            let n = work.save_version(&format!("Saved on {}", self.config.machine))?;
            notes.say(format!(
                "Saved the unsaved changes first ({}).",
                words::count(n, "file", "files")
            ));
        }
        let head = work.git.resolve("HEAD")?;
        if head.is_some() && head == server {
            notes.say("Everything is already on the server.");
            work.record_state(&mut notes)?;
            return Ok(notes);
        }
        match work.send(true)? {
            Pushed::Done => notes.say("Sent: the server has every version of this folder."),
            Pushed::Offline => {
                return Err(Error::failed(
                    "the server cannot be reached: nothing was sent; your versions are safe here",
                ));
            }
            Pushed::Behind => {
                return Err(Error::failed(
                    "the server received other versions meanwhile: run `girofle-client resolve`",
                ));
            }
            Pushed::Stale => {
                let mut more = Notes::default();
                work.catch_up(&mut more)?;
                return Err(Error::failed(
                    std::iter::once(
                        "nothing was sent: another machine took this folder over".to_string(),
                    )
                    .chain(more.lines)
                    .collect::<Vec<_>>()
                    .join("\n"),
                ));
            }
        }
        Ok(notes)
    }

    /// `status`: what this folder holds that the server lacks, and the reverse.
    pub fn status(&self, folder: Option<&Path>) -> Result<(Status, Notes)> {
        let mut work = self.work(folder)?;
        let mut notes = Notes::default();
        work.catch_up(&mut notes)?;
        work.record_state(&mut notes)?;
        let local = work.local()?;
        let head = work.git.resolve("HEAD")?;
        let version: usize = match &head {
            Some(_) => work
                .git
                .run(&["rev-list", "--count", "--first-parent", "HEAD"])?
                .trim()
                .parse()
                .unwrap_or(0),
            None => 0,
        };
        let mut versions = Vec::new();
        if head.is_some() {
            let log = work.git.run(&[
                "log",
                "--first-parent",
                "-n",
                "5",
                "--format=%ct%x00%s",
                "HEAD",
            ])?;
            for (index, line) in log.lines().enumerate() {
                let (time, message) = line.split_once('\0').unwrap_or((line, ""));
                let when = time
                    .parse::<i64>()
                    .ok()
                    .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
                    .map(words::when)
                    .unwrap_or_default();
                versions.push((version.saturating_sub(index), when, message.to_string()));
            }
        }
        let server_ahead = if work.online {
            Some(work.server_ahead()?)
        } else {
            None
        };
        let me = &self.config.person;
        let others = if work.online {
            work.server_states()?
                .into_iter()
                .filter(|f| f.reference != self.my_ref() && f.state.blocks())
                .map(|f| f.unsent_words(me))
                .collect()
        } else {
            vec![]
        };
        Ok((
            Status {
                folder: work.folder.path.clone(),
                dir: work.folder.dir.clone(),
                version,
                unsaved: local.unsaved,
                unsent: local.unsent,
                server_ahead,
                pending: work.folder.pending.clone(),
                aside: work.folder.aside.clone(),
                others,
                versions,
            },
            notes,
        ))
    }

    /// `get FOLDER [DIR]`: brings a folder of the person's inventory here.
    /// Refused while another machine holds changes that never reached the
    /// server, unless `take_over` (the caller has asked the person).
    pub fn get(&self, name: &str, dir: Option<&Path>, take_over: bool) -> Result<Notes> {
        let project = self.find_project(name)?;
        let registry = Locked::open(&self.data_dir)?;
        if let Some(bound) = registry.registry.by_id(project.id).cloned() {
            if bound.dir.symlink_metadata().is_ok() {
                return Err(Error::usage(format!(
                    "{} is already on this machine, at {}: one folder per machine",
                    project.path_with_namespace,
                    bound.dir.display()
                )));
            }
            return self.remake(registry, bound, dir);
        }
        let dir = match dir {
            Some(dir) => config::absolute(dir)?,
            None => std::env::current_dir()?.join(&project.path),
        };
        if dir.exists() {
            let empty = dir.is_dir() && std::fs::read_dir(&dir)?.next().is_none();
            if !empty {
                return Err(Error::usage(format!(
                    "{} exists already and is not empty: name another place",
                    dir.display()
                )));
            }
        }
        let parent = dir.parent().unwrap_or(Path::new("/"));
        let canonical = parent
            .canonicalize()
            .map(|p| p.join(dir.file_name().unwrap_or_default()))
            .unwrap_or(dir.clone());
        if let Some(other) = registry.registry.overlapping(&canonical) {
            return Err(Error::usage(format!(
                "{} would be inside or around the saved folder {}",
                dir.display(),
                other.dir.display()
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
                return Err(Error::failed(format!(
                    "{url}: the server cannot be reached"
                )));
            }
            Err(error) => {
                cleanup(&history);
                return Err(error);
            }
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
                cleanup(&history);
                let lines: Vec<String> = blockers
                    .iter()
                    .map(|f| {
                        let there = if f.state.person == self.config.person {
                            "sync there first"
                        } else {
                            "they must sync there first"
                        };
                        format!(
                            "{} were never sent; {there}",
                            f.unsent_words(&self.config.person)
                        )
                    })
                    .collect();
                return Err(Error::failed(format!(
                    "{}\n(or take the folder over with --take-over: that work is then kept aside \
                     on that machine, never lost)",
                    lines.join("\n")
                )));
            }
            let now = OffsetDateTime::now_utc();
            let by = format!("{}/{}", self.config.person, self.config.machine);
            let mut updates = Vec::new();
            for found in &blockers {
                let mut taken = found.state.clone();
                taken.kind = Kind::TakenOver;
                taken.by = Some(by.clone());
                taken.at = Some(now);
                let commit = work.state_commit(&taken)?;
                updates.push((found.state.clone(), found.commit.clone(), commit));
            }
            let mut args: Vec<String> =
                vec!["push".into(), "--porcelain".into(), "--atomic".into()];
            for (taken, old, _) in &updates {
                args.push(format!(
                    "--force-with-lease={}:{old}",
                    state::machine_ref(&taken.person, &taken.machine)
                ));
            }
            args.push(url.clone());
            for (taken, _, new) in &updates {
                args.push(format!(
                    "{new}:{}",
                    state::machine_ref(&taken.person, &taken.machine)
                ));
            }
            match work.push(&args)? {
                Pushed::Done => {
                    for found in &blockers {
                        notes.say(format!(
                            "Took the folder over: {} will be kept aside there the next time the client runs on {}.",
                            found.unsent_words(&self.config.person),
                            found.state.machine
                        ));
                    }
                }
                Pushed::Offline => {
                    cleanup(&history);
                    return Err(Error::failed("the server cannot be reached"));
                }
                _ => {
                    cleanup(&history);
                    return Err(Error::failed(
                        "the other machine's state changed meanwhile: nothing was taken over; try again",
                    ));
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
        notes.say(format!(
            "{} is here, in {}.",
            project.path_with_namespace,
            canonical.display()
        ));
        Ok(notes)
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
            return Err(Error::usage(format!(
                "{} exists already and is not empty: name another place",
                target.display()
            )));
        }
        std::fs::create_dir_all(&target)?;
        let target = target.canonicalize()?;
        if let Some(other) = registry.registry.folders.iter().find(|f| {
            f.id != folder.id && (target.starts_with(&f.dir) || f.dir.starts_with(&target))
        }) {
            return Err(Error::usage(format!(
                "{} would be inside or around the saved folder {}",
                target.display(),
                other.dir.display()
            )));
        }
        folder.dir = target.clone();
        let git = self.git(folder.id, &target);
        if git.resolve("HEAD")?.is_some() {
            git.run(&["read-tree", "--reset", "-u", "HEAD"])?;
        }
        let mut work = Work {
            client: self,
            registry,
            folder,
            git,
            online: false,
        };
        work.registry.put(work.folder.clone())?;
        let mut notes = Notes::default();
        notes.say(format!(
            "{} was no longer at {}: it is remade in {} with every version kept on this machine.",
            work.folder.path,
            old.display(),
            target.display()
        ));
        work.catch_up(&mut notes)?;
        work.record_state(&mut notes)?;
        Ok(notes)
    }

    /// `resolve` with no choice: brings the server's version in when it has
    /// versions this machine lacks, and returns the files still to choose.
    pub fn resolve_start(&self, folder: Option<&Path>) -> Result<(Vec<String>, Notes)> {
        let mut work = self.work(folder)?;
        let mut notes = Notes::default();
        if work.catch_up(&mut notes)? || !work.folder.pending.is_empty() {
            return Ok((work.folder.pending.clone(), notes));
        }
        if !work.online {
            return Err(Error::failed(
                "the server cannot be reached: try again when this machine is online",
            ));
        }
        if work.server_ahead()? == 0 {
            notes.say("Nothing to bring together: the server has no version this machine lacks.");
            return Ok((vec![], notes));
        }
        work.bring_together(&mut notes)?;
        Ok((work.folder.pending.clone(), notes))
    }

    /// `resolve --keep mine|server|both FILE...`: the person's choice for
    /// files that differ. When none is left, the result is saved.
    pub fn resolve_keep(
        &self,
        folder: Option<&Path>,
        keep: Keep,
        files: &[String],
    ) -> Result<(Vec<String>, Notes)> {
        let mut work = self.work(folder)?;
        let mut notes = Notes::default();
        let aside = work.folder.aside.clone().ok_or_else(|| {
            Error::usage("no file is waiting for a choice (run `girofle-client resolve` first)")
        })?;
        for file in files {
            let file = normalize(file, &work.folder.dir);
            if !work.folder.pending.contains(&file) {
                return Err(Error::usage(format!(
                    "{file} is not waiting for a choice; these are: {}",
                    if work.folder.pending.is_empty() {
                        "none".to_string()
                    } else {
                        work.folder.pending.join(", ")
                    }
                )));
            }
            match keep {
                Keep::Mine => {
                    tree::copy_file(&aside, &file, &work.folder.dir, &file)?;
                    notes.say(format!("{file}: kept yours"));
                }
                Keep::Server => notes.say(format!("{file}: kept the server's")),
                Keep::Both => {
                    let other = tree::both_name(&file, &self.config.machine);
                    tree::copy_file(&aside, &file, &work.folder.dir, &other)?;
                    notes.say(format!("{file}: kept both (yours is {other})"));
                }
            }
            work.folder.pending.retain(|p| *p != file);
            work.registry.put(work.folder.clone())?;
        }
        if work.folder.pending.is_empty() {
            work.finish_together(&mut notes)?;
        }
        Ok((work.folder.pending.clone(), notes))
    }

    /// `discard`: remakes the folder at a version (the newest by default);
    /// the current folder is moved aside first and its new path returned.
    pub fn discard(&self, folder: Option<&Path>, to: Option<&str>) -> Result<(PathBuf, Notes)> {
        let mut work = self.work(folder)?;
        let mut notes = Notes::default();
        if work.catch_up(&mut notes)? {
            return Err(Error::failed(notes.lines.join("\n")));
        }
        let head = work
            .git
            .resolve("HEAD")?
            .ok_or_else(|| Error::usage("this folder has no version yet"))?;
        let history: Vec<String> = work
            .git
            .run(&["rev-list", "--first-parent", "--reverse", "HEAD"])?
            .lines()
            .map(str::to_string)
            .collect();
        let (target, number) = match to {
            None => (head.clone(), history.len()),
            Some(text) => {
                let text = text.trim();
                if let Ok(n) = text.parse::<usize>()
                    && n >= 1
                    && n <= history.len()
                {
                    (history[n - 1].clone(), n)
                } else {
                    let found = history
                        .iter()
                        .position(|c| text.len() >= 4 && c.starts_with(text))
                        .ok_or_else(|| {
                            Error::usage(format!(
                                "there is no version {text}: versions go from 1 to {}",
                                history.len()
                            ))
                        })?;
                    (history[found].clone(), found + 1)
                }
            }
        };
        let dir = work.folder.dir.clone();
        let aside = tree::move_aside(&dir)?;
        std::fs::create_dir(&dir)?;
        let remade = (|| -> Result<()> {
            work.git.run(&["read-tree", "--reset", "-u", &target])?;
            if target != head {
                work.git.run(&[
                    "commit",
                    "--quiet",
                    "-m",
                    &format!("Back to version {number}, on {}", self.config.machine),
                ])?;
            }
            Ok(())
        })();
        if let Err(error) = remade {
            // Put the person's folder back as it was.
            let _ = std::fs::remove_dir_all(&dir);
            let _ = std::fs::rename(&aside, &dir);
            return Err(error);
        }
        work.folder.pending.clear();
        work.folder.aside = None;
        work.registry.put(work.folder.clone())?;
        if target == head {
            notes.say(format!(
                "The folder is back at version {number}, its newest."
            ));
        } else {
            notes.say(format!(
                "The folder is back at version {number}; that is saved as a new version."
            ));
        }
        work.record_state(&mut notes)?;
        Ok((aside, notes))
    }

    /// `share FOLDER PERSON`: lets another person retrieve the folder.
    pub fn share(&self, name: &str, person: &str) -> Result<Notes> {
        let project = self.find_project(name)?;
        let user = self
            .api
            .user_named(person)?
            .ok_or_else(|| Error::usage(format!("the server knows no person named {person:?}")))?;
        let mut notes = Notes::default();
        if self.api.add_member(project.id, user.id)? {
            notes.say(format!(
                "{} may now get {}.",
                user.username, project.path_with_namespace
            ));
        } else {
            notes.say(format!(
                "{} could already get {}.",
                user.username, project.path_with_namespace
            ));
        }
        Ok(notes)
    }
}

/// What `status` shows.
#[derive(Debug)]
pub struct Status {
    /// The folder's full name on the server.
    pub folder: String,
    /// The folder on this machine.
    pub dir: PathBuf,
    /// The number of the version the folder is built on.
    pub version: usize,
    /// Files changed since the last version: a letter and a path.
    pub unsaved: Vec<(char, String)>,
    /// Versions saved here and not sent.
    pub unsent: usize,
    /// Versions on the server this machine lacks; `None` offline.
    pub server_ahead: Option<usize>,
    /// Files waiting for a choice.
    pub pending: Vec<String>,
    /// The dated copy of the last bringing-together.
    pub aside: Option<PathBuf>,
    /// Other machines with changes never sent.
    pub others: Vec<String>,
    /// The newest versions: number, when, what was said.
    pub versions: Vec<(usize, String, String)>,
}

/// Which copy of a differing file to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// The person's.
    Mine,
    /// The server's.
    Server,
    /// Both: the person's goes beside, named after this machine.
    Both,
}

struct Local {
    unsaved: Vec<(char, String)>,
    unsent: usize,
}

impl Work<'_> {
    fn url(&self) -> String {
        self.client.url(&self.folder.path)
    }

    /// Fetches the server's branch and machine states; false when offline.
    fn fetch(&mut self) -> Result<bool> {
        let url = self.url();
        let output = self.git.output(&[
            "fetch",
            "--quiet",
            "--prune",
            "--no-tags",
            &url,
            "+refs/heads/*:refs/remotes/origin/*",
            "+refs/girofle/*:refs/remotes/origin-girofle/*",
        ])?;
        if output.ok {
            self.online = true;
            return Ok(true);
        }
        self.online = false;
        if git::is_unreachable(&output.stderr) {
            return Ok(false);
        }
        Err(Error::failed(refusal(&output.stderr, &self.folder.path)))
    }

    fn server_states(&self) -> Result<Vec<Found>> {
        let text = self.git.run(&[
            "for-each-ref",
            "--format=%(objectname)%00%(refname)%00%(contents)%00%00",
            SERVER_STATES,
        ])?;
        let mut found = Vec::new();
        for record in text.split("\0\0") {
            let record = record.trim_start_matches('\n');
            let mut parts = record.splitn(3, '\0');
            let (Some(commit), Some(local_ref), Some(message)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let Some(state) = MachineState::from_message(message) else {
                continue;
            };
            let reference = format!(
                "{}{}",
                state::PREFIX,
                local_ref.trim_start_matches(SERVER_STATES)
            );
            found.push(Found {
                commit: commit.to_string(),
                reference,
                state,
            });
        }
        Ok(found)
    }

    fn local(&self) -> Result<Local> {
        let text = self.git.run(&[
            "status",
            "--porcelain=v1",
            "-z",
            "--untracked-files=all",
            "--ignored=matching",
        ])?;
        let mut unsaved = Vec::new();
        let mut entries = text.split('\0').filter(|e| !e.is_empty());
        while let Some(entry) = entries.next() {
            if entry.len() < 4 {
                continue;
            }
            let (code, path) = entry.split_at(3);
            let code = code.trim();
            let letter = match code {
                "??" | "!!" => 'N',
                _ if code.contains('D') => 'D',
                _ if code.contains('A') => 'N',
                _ => 'M',
            };
            if code.starts_with('R') || code.starts_with('C') {
                entries.next();
            }
            unsaved.push((letter, path.to_string()));
        }
        let unsent = match (self.git.resolve("HEAD")?, self.git.resolve(SERVER_MAIN)?) {
            (None, _) => 0,
            (Some(_), None) => self
                .git
                .run(&["rev-list", "--count", "HEAD"])?
                .trim()
                .parse()
                .unwrap_or(0),
            (Some(_), Some(_)) => self
                .git
                .run(&["rev-list", "--count", &format!("{SERVER_MAIN}..HEAD")])?
                .trim()
                .parse()
                .unwrap_or(0),
        };
        Ok(Local { unsaved, unsent })
    }

    /// Versions on the server this machine lacks.
    fn server_ahead(&self) -> Result<usize> {
        if self.git.resolve(SERVER_MAIN)?.is_none() {
            return Ok(0);
        }
        let range = if self.git.resolve("HEAD")?.is_some() {
            format!("HEAD..{SERVER_MAIN}")
        } else {
            SERVER_MAIN.to_string()
        };
        Ok(self
            .git
            .run(&["rev-list", "--count", &range])?
            .trim()
            .parse()
            .unwrap_or(0))
    }

    fn refuse_while_pending(&self) -> Result<()> {
        if self.folder.pending.is_empty() {
            return Ok(());
        }
        Err(Error::usage(format!(
            "{} still {} for your choice: run `girofle-client resolve`",
            words::count(self.folder.pending.len(), "file", "files"),
            if self.folder.pending.len() == 1 {
                "waits"
            } else {
                "wait"
            }
        )))
    }

    /// Saves every file as it is now; returns how many changed.
    fn save_version(&mut self, message: &str) -> Result<usize> {
        self.git.run(&["add", "--all", "--force", "--", ":/"])?;
        let changed = self
            .git
            .run(&["diff", "--cached", "--name-only", "-z"])?
            .split('\0')
            .filter(|p| !p.is_empty())
            .count();
        let first = self.git.resolve("HEAD")?.is_none();
        if changed == 0 && !first {
            return Ok(0);
        }
        self.git
            .run(&["commit", "--quiet", "--allow-empty", "-m", message])?;
        Ok(changed)
    }

    /// The commit recording `state`, with an empty tree.
    fn state_commit(&self, state: &MachineState) -> Result<String> {
        let tree = self.git.run(&["mktree"])?.trim().to_string();
        Ok(self
            .git
            .run(&["commit-tree", &tree, "-m", &state.to_message()])?
            .trim()
            .to_string())
    }

    fn push(&self, args: &[String]) -> Result<Pushed> {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = self.git.output(&refs)?;
        if output.ok {
            return Ok(Pushed::Done);
        }
        let all = format!("{}\n{}", output.stdout, output.stderr);
        if git::is_unreachable(&all) {
            return Ok(Pushed::Offline);
        }
        if all.contains("stale info") {
            return Ok(Pushed::Stale);
        }
        if all.contains("non-fast-forward") || all.contains("fetch first") {
            return Ok(Pushed::Behind);
        }
        if git::is_refused(&all) {
            return Err(Error::failed(refusal(&all, &self.folder.path)));
        }
        // Unexpected: the details are for whoever helps the person.
        Err(Error::failed(format!(
            "sending to the server failed (details: {})",
            all.trim().replace('\n', " / ")
        )))
    }

    /// What this machine's state is now.
    fn current_state(&mut self) -> Result<MachineState> {
        let local = self.local()?;
        let version = self.git.resolve("HEAD")?.unwrap_or_default();
        let clean = local.unsaved.is_empty() && local.unsent == 0;
        let since = if clean {
            self.folder.since = None;
            None
        } else {
            let since = self
                .folder
                .since
                .as_deref()
                .and_then(|s| {
                    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
                })
                .unwrap_or_else(|| self.unsent_since(&local));
            self.folder.since = Some(crate::timefmt::rfc3339(since));
            Some(since)
        };
        Ok(MachineState {
            person: self.client.config.person.clone(),
            machine: self.client.config.machine.clone(),
            kind: if clean { Kind::Clean } else { Kind::Unsent },
            version,
            since,
            by: None,
            at: None,
        })
    }

    /// The oldest of: the first version not sent, the oldest changed file.
    fn unsent_since(&self, local: &Local) -> OffsetDateTime {
        let now = OffsetDateTime::now_utc();
        let mut oldest = now;
        if local.unsent > 0 {
            let range = match self.git.resolve(SERVER_MAIN).ok().flatten() {
                Some(_) => format!("{SERVER_MAIN}..HEAD"),
                None => "HEAD".into(),
            };
            if let Ok(times) = self.git.run(&["log", "--format=%ct", &range]) {
                for t in times.lines().filter_map(|t| t.trim().parse::<i64>().ok()) {
                    if let Ok(at) = OffsetDateTime::from_unix_timestamp(t) {
                        oldest = oldest.min(at);
                    }
                }
            }
        }
        for (_, path) in &local.unsaved {
            if let Ok(modified) = self
                .folder
                .dir
                .join(path)
                .symlink_metadata()
                .and_then(|m| m.modified())
            {
                oldest = oldest.min(OffsetDateTime::from(modified));
            }
        }
        oldest
    }

    /// Records this machine's state on the server when it changed (and the
    /// server can be reached); the branch too when `with_versions`.
    fn send(&mut self, with_versions: bool) -> Result<Pushed> {
        let state = self.current_state()?;
        let mut state = state;
        if with_versions {
            // What is sent with the versions is clean by definition, unless
            // unsaved changes remain.
            if self.local()?.unsaved.is_empty() {
                state.kind = Kind::Clean;
                state.since = None;
                self.folder.since = None;
            }
        }
        let commit = self.state_commit(&state)?;
        let my_ref = self.client.my_ref();
        let expected = self.folder.written.clone().unwrap_or_default();
        let mut args: Vec<String> = vec![
            "push".into(),
            "--porcelain".into(),
            "--atomic".into(),
            format!("--force-with-lease={my_ref}:{expected}"),
            self.url(),
            format!("{commit}:{my_ref}"),
        ];
        if with_versions {
            args.push("HEAD:refs/heads/main".into());
        }
        let pushed = self.push(&args)?;
        if pushed == Pushed::Done {
            self.folder.written = Some(commit.clone());
            if with_versions {
                self.git.run(&["update-ref", SERVER_MAIN, "HEAD"])?;
            }
            let local_state_ref = format!(
                "{SERVER_STATES}{}",
                my_ref.trim_start_matches(state::PREFIX)
            );
            self.git.run(&["update-ref", &local_state_ref, &commit])?;
        }
        self.registry.put(self.folder.clone())?;
        Ok(pushed)
    }

    /// Records the state on the server if it differs from what is there.
    fn record_state(&mut self, notes: &mut Notes) -> Result<()> {
        let now = self.current_state()?;
        self.registry.put(self.folder.clone())?;
        if !self.online {
            return Ok(());
        }
        let mine = self.client.my_ref();
        let there = self
            .server_states()?
            .into_iter()
            .find(|f| f.reference == mine);
        let same = there.as_ref().is_some_and(|f| {
            f.state.kind == now.kind && f.state.version == now.version && f.state.since == now.since
        }) && there.as_ref().map(|f| &f.commit) == self.folder.written.as_ref();
        if same {
            return Ok(());
        }
        match self.send(false)? {
            Pushed::Done => {}
            Pushed::Offline => self.online = false,
            Pushed::Stale => {
                // The ref moved since it was read: read it again; unless
                // this machine was taken over, try once more.
                let mut more = Notes::default();
                if self.catch_up(&mut more)? {
                    notes.lines.extend(more.lines);
                } else if self.send(false)? == Pushed::Offline {
                    self.online = false;
                }
            }
            Pushed::Behind => {}
        }
        Ok(())
    }

    /// Fetches, and acts on a take-over of this machine. True when the folder
    /// was taken over and its work kept aside (the action should stop: the
    /// notes say what happened).
    fn catch_up(&mut self, notes: &mut Notes) -> Result<bool> {
        if !self.fetch()? {
            return Ok(false);
        }
        let mine = self.client.my_ref();
        let own = self
            .server_states()?
            .into_iter()
            .find(|f| f.reference == mine);
        match own {
            Some(found) if Some(&found.commit) != self.folder.written.as_ref() => {
                if found.state.kind == Kind::TakenOver {
                    let by = found
                        .state
                        .by
                        .clone()
                        .unwrap_or_else(|| "another machine".into());
                    let by = by
                        .strip_prefix(&format!("{}/", self.client.config.person))
                        .map(str::to_string)
                        .unwrap_or(by);
                    let at = found
                        .state
                        .at
                        .map(|at| format!(" at {}", words::when(at)))
                        .unwrap_or_default();
                    notes.say(format!(
                        "{by} took this folder over{at}, without the changes made here."
                    ));
                    self.folder.written = Some(found.commit.clone());
                    self.bring_together(notes)?;
                    return Ok(true);
                }
                self.folder.written = Some(found.commit);
                self.registry.put(self.folder.clone())?;
            }
            Some(_) => {}
            None => {
                if self.folder.written.is_some() {
                    self.folder.written = None;
                    self.registry.put(self.folder.clone())?;
                }
            }
        }
        Ok(false)
    }

    /// Copies the folder aside as it is, brings the server's version in, adds
    /// back the files the server lacks, and leaves the files that differ to
    /// the person's choice.
    fn bring_together(&mut self, notes: &mut Notes) -> Result<()> {
        let dir = self.folder.dir.clone();
        let aside = tree::copy_aside(&dir)?;
        notes.say(format!(
            "Your folder as it was is kept in {}.",
            aside.display()
        ));
        if let Some(head) = self.git.resolve("HEAD")? {
            // The versions made here stay in the history too.
            let name = format!(
                "refs/girofle-kept/{}",
                words::stamp(OffsetDateTime::now_utc()).replace(' ', "_")
            );
            self.git.run(&["update-ref", &name, &head])?;
        }
        if self.git.resolve(SERVER_MAIN)?.is_some() {
            self.git.run(&["reset", "--quiet", "--hard", SERVER_MAIN])?;
        }
        let mut added = Vec::new();
        let mut pending = Vec::new();
        for file in tree::files(&aside)? {
            let here = dir.join(&file);
            if here.symlink_metadata().is_err() {
                tree::copy_file(&aside, &file, &dir, &file)?;
                added.push(file);
            } else if !tree::same(&aside, &dir, &file)? {
                pending.push(file);
            }
        }
        if !added.is_empty() {
            notes.say(format!(
                "Added back {} the server did not have: {}.",
                words::count(added.len(), "file", "files"),
                added.join(", ")
            ));
        }
        self.folder.aside = Some(aside);
        self.folder.pending = pending;
        self.registry.put(self.folder.clone())?;
        if self.folder.pending.is_empty() {
            self.finish_together(notes)?;
        } else {
            notes.say(format!(
                "{} differ from the server's: choose for each with `girofle-client resolve` \
                 (yours, the server's, or both): {}",
                words::count(self.folder.pending.len(), "file", "files"),
                self.folder.pending.join(", ")
            ));
            self.record_state(notes)?;
        }
        Ok(())
    }

    /// Once every choice is made: saves the result, ready to be sent.
    fn finish_together(&mut self, notes: &mut Notes) -> Result<()> {
        let n = self.save_version(&format!(
            "Brought together on {}",
            self.client.config.machine
        ))?;
        if n > 0 {
            notes.say(
                "Every file is chosen; the result is saved. Run `girofle-client sync` to send it.",
            );
        } else {
            notes.say("Every file is chosen; the folder is the server's version.");
        }
        if let Some(aside) = &self.folder.aside {
            notes.say(format!(
                "The copy {} stays; remove it when you no longer need it.",
                aside.display()
            ));
        }
        self.folder.aside = None;
        self.registry.put(self.folder.clone())?;
        self.record_state(notes)
    }
}

/// The server's refusal in plain words (git's and GitLab's own messages
/// speak of repositories and pushes).
fn refusal(message: &str, folder: &str) -> String {
    let text = message.to_ascii_lowercase();
    if text.contains("401")
        || text.contains("authentication failed")
        || text.contains("access denied")
        || text.contains("could not read username")
    {
        "the server refused your access token (it may have expired): make a new one and run          `girofle-client setup`"
            .to_string()
    } else if text.contains("not allowed") || text.contains("403") {
        format!("the server refused: you may read {folder} but not send versions to it")
    } else {
        format!(
            "the server refused access to {folder}: it does not exist any more,              or it is not shared with you any more"
        )
    }
}

/// A file named on the command line, relative to the folder.
fn normalize(file: &str, dir: &Path) -> String {
    let path = Path::new(file);
    if path.is_absolute() {
        if let Ok(relative) = path.strip_prefix(dir) {
            return relative.to_string_lossy().into_owned();
        }
    } else if let Ok(cwd) = std::env::current_dir() {
        let cwd = cwd.canonicalize().unwrap_or(cwd);
        if let Ok(inside) = cwd.strip_prefix(dir)
            && !inside.as_os_str().is_empty()
        {
            return inside.join(path).to_string_lossy().into_owned();
        }
    }
    file.trim_start_matches("./").to_string()
}

/// A project path from a folder name: lower case, letters, digits, `-`, `_`, `.`.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out
        .trim_matches(|c| c == '-' || c == '.' || c == '_')
        .to_string();
    if out.is_empty() { "folder".into() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(slug("Rapport annuel 2026"), "rapport-annuel-2026");
        assert_eq!(slug("Présentation"), "pr-sentation");
        assert_eq!(slug("--"), "folder");
    }
}
