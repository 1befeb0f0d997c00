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

use super::api::{self, Api, ApiError, Membership, Project};
use super::config::{self, Config, Location};
use super::folders::{self, Folder, Locked};
use super::git::Git;
use super::names;
use super::state::{self, MachineState};
use super::tree;
use super::words;
use super::work::{Pushed, SERVER_MAIN, Work};
use girofle_base::error::{Error, Result};

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
    /// A certificate authority (PEM) to trust for the server.
    pub ca_file: Option<PathBuf>,
    /// Accept a plain `http://` address of another machine.
    pub insecure_http: bool,
}

/// Writes `client.toml` after checking the token with the server.
pub fn setup(location: &Location, args: &SetupArgs) -> Result<Config> {
    let server = args.server.trim().trim_end_matches('/').to_string();
    if !(server.starts_with("http://") || server.starts_with("https://")) {
        return Err(Error::usage(format!(
            "{server:?} is not a server address (it starts with https:// or http://)"
        )));
    }
    config::check_server(&server, args.insecure_http)?;
    let ca_file = args.ca_file.as_deref().map(config::absolute).transpose()?;
    let machine = args
        .machine
        .clone()
        .unwrap_or_else(config::default_machine_name);
    config::check_machine_name(&machine)?;
    super::git::check_version()?;
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
    let user = Api::new(&server, &token, ca_file.as_deref())?
        .current_user()
        .map_err(|error| Error::failed(format!("{server}: {error}")))?;
    std::fs::create_dir_all(&config_dir)?;
    if args.token.is_some() {
        girofle_base::atomic::write(&token_file, format!("{token}\n").as_bytes(), 0o600)?;
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
        ca_file,
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
    pub(super) fn say(&mut self, line: impl Into<String>) {
        self.lines.push(line.into());
    }
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

impl Client {
    /// Opens the configuration and reads the token.
    pub fn open(location: Location) -> Result<Client> {
        let config = Config::load(&location)?;
        let token = config.token()?;
        let data_dir = config.data_dir(&location)?;
        let api = Api::new(&config.server, &token, config.ca_file.as_deref())?;
        Ok(Client {
            location,
            config,
            data_dir,
            token,
            api,
        })
    }

    pub(super) fn url(&self, project_path: &str) -> String {
        format!(
            "{}/{project_path}.git",
            self.config.server.trim_end_matches('/')
        )
    }

    pub(super) fn git(&self, id: u64, dir: &Path) -> Git {
        Git::new(
            &folders::history_dir(&self.data_dir, id),
            dir,
            &self.config.name,
            &self.config.email,
        )
        .with_token(&self.token)
        .with_token_file(&self.config.token_file, &self.config.server)
        .with_ca_file(self.config.ca_file.as_deref())
    }

    pub(super) fn my_ref(&self) -> String {
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
            .filter(|p| {
                p.path.eq_ignore_ascii_case(name) || p.name == name || p.display_name() == name
            })
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
        let folder_name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "folder".into());
        let (project, clash) = self.create_project(&folder_name, &registry)?;
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
        if clash {
            notes.say(format!(
                "You already have a folder named {folder_name:?} on the server: this one is {} there.",
                project.path_with_namespace
            ));
        }
        match work.send(true)? {
            Pushed::Done => notes.say(format!(
                "{} is now a saved folder ({} on the server); its first version is sent.",
                dir.display(),
                project.path_with_namespace
            )),
            Pushed::Offline => notes.say(format!(
                "{} is now a saved folder, but the server could not be reached to send \
                 its first version: run `girofle-client sync` later.",
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
                        return Err(Error::usage(format!(
                            "you already have a folder named {:?} on the server ({}), not on this \
                             computer: bring it here with `girofle-client get {}`, or rename this folder",
                            other.display_name(),
                            other.path_with_namespace,
                            other.path
                        )));
                    }
                    continue;
                }
                Err(ApiError::Status(400, body)) => {
                    return Err(Error::failed(format!(
                        "the server would not make {folder_name:?} a saved folder: {}. \
                         Give the folder a simpler name and try again.",
                        api::explain(&body).unwrap_or_else(|| "it refused the name".into())
                    )));
                }
                Err(error) => return Err(error.into()),
            }
        }
        Err(Error::failed(format!(
            "you have many folders named {folder_name:?} on the server already: \
             give this one another name"
        )))
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
                work.refuse_unwritable(SERVER_MAIN)?;
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
                if work.catch_up(&mut more)? {
                    return Err(Error::failed(
                        std::iter::once(
                            "nothing was sent: another machine took this folder over".to_string(),
                        )
                        .chain(more.lines)
                        .collect::<Vec<_>>()
                        .join("\n"),
                    ));
                }
                return Err(Error::failed(
                    "nothing was sent: the server's record of this machine changed meanwhile; \
                     run `girofle-client sync` again",
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
            // The name it has on the machine where it was made.
            None => std::env::current_dir()?.join(folder_name(&project)),
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
            match work.take_over(&blockers)? {
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
        let (pending, notes, _) = self.bring_together(folder)?;
        Ok((pending, notes))
    }

    /// What `resolve` alone does; true with it when the two sides were
    /// brought together (now, or by a take-over).
    fn bring_together(&self, folder: Option<&Path>) -> Result<(Vec<String>, Notes, bool)> {
        let mut work = self.work(folder)?;
        let mut notes = Notes::default();
        if work.catch_up(&mut notes)? || !work.folder.pending.is_empty() {
            return Ok((work.folder.pending.clone(), notes, true));
        }
        if !work.online {
            return Err(Error::failed(
                "the server cannot be reached: try again when this machine is online",
            ));
        }
        if work.server_ahead()? == 0 {
            notes.say("Nothing to bring together: the server has no version this machine lacks.");
            return Ok((vec![], notes, false));
        }
        work.bring_together(&mut notes)?;
        Ok((work.folder.pending.clone(), notes, true))
    }

    /// `resolve --keep mine|server|both FILE...`: the person's choice for
    /// files that differ. When none is left, the result is saved.
    pub fn resolve_keep(
        &self,
        folder: Option<&Path>,
        keep: Keep,
        files: &[String],
    ) -> Result<(Vec<String>, Notes)> {
        let mut notes = Notes::default();
        // After `sync` stopped on versions on both sides, nothing was brought
        // together yet: do it first, as `resolve` alone would.
        let started = self.work(folder)?.folder.aside.is_none();
        if started {
            let (pending, first, brought) = self.bring_together(folder)?;
            if !brought {
                return Err(Error::usage(
                    "no file is waiting for a choice: nothing differs from the server's version",
                ));
            }
            notes.lines.extend(first.lines);
            if pending.is_empty() {
                return Ok((pending, notes));
            }
        }
        let mut work = self.work(folder)?;
        let aside = work.folder.aside.clone().ok_or_else(|| {
            Error::usage(
                "no file is waiting for a choice: nothing differs from the server's version",
            )
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
                    tree::copy_file(&aside, &file, &work.folder.dir, &file)
                        .map_err(|e| e.context(format!("{file}: yours was not put back")))?;
                    notes.say(format!("{file}: kept yours"));
                }
                Keep::Server => notes.say(format!("{file}: kept the server's")),
                Keep::Both => {
                    let other = tree::both_name(&file, &self.config.machine);
                    tree::copy_file(&aside, &file, &work.folder.dir, &other)
                        .map_err(|e| e.context(format!("{file}: yours was not put back")))?;
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
        work.refuse_unwritable(&target)?;
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
        let folder = &project.path_with_namespace;
        let who = &user.username;
        match self.api.add_member(project.id, user.id)? {
            Membership::Added => notes.say(format!(
                "{who} may now get {folder} and send versions to it."
            )),
            Membership::Already(level) if level >= api::MAINTAINER => {
                notes.say(format!("{who} could already get {folder}."))
            }
            Membership::Already(_) => {
                self.api.make_maintainer(project.id, user.id)?;
                notes.say(format!(
                    "{who} could already get {folder} but not send versions to it; \
                     {who} is now a Maintainer of it and may."
                ));
            }
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

/// The folder's name on a machine: the name of the folder it was made from
/// (kept in the project's description), or the project's name, or its path
/// when that name cannot be a file name.
pub fn folder_name(project: &Project) -> String {
    let name = project.display_name().trim();
    if name.is_empty() || name.contains('/') || name.starts_with('.') || name.contains('\0') {
        project.path.clone()
    } else {
        name.to_string()
    }
}
