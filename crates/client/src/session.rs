//! A configured client: the configuration, the token, the GitLab API; and
//! what every action reports (its notes, the machine states it found).

use std::path::{Path, PathBuf};

use girofle_base::error::{Error, Result};

use crate::api::{Api, ApiError, Project};
use crate::config::{Config, Location};
use crate::folders;
use crate::git::Git;
use crate::state::{self, MachineState};
use crate::tr;
use crate::words;

/// A configured client: the configuration, the token, the API.
pub struct Client {
    /// Where the configuration is.
    pub location: Location,
    /// The configuration.
    pub config: Config,
    /// Where the client keeps its data.
    pub data_dir: PathBuf,
    token: String,
    pub(crate) api: Api,
}

/// What an action did, in plain words.
#[derive(Debug, Default)]
pub struct Notes {
    /// One line each, for the person.
    pub lines: Vec<String>,
}

impl Notes {
    pub(crate) fn say(&mut self, line: impl Into<String>) {
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
        let machine = self.state.machine.clone();
        let mine = self.state.person == me;
        match (self.state.since, mine) {
            (Some(at), true) => tr!(
                "your-changes-since",
                machine = machine,
                since = words::when(at)
            ),
            (None, true) => tr!("your-changes", machine = machine),
            (Some(at), false) => tr!(
                "their-changes-since",
                person = self.state.person.clone(),
                machine = machine,
                since = words::when(at)
            ),
            (None, false) => tr!(
                "their-changes",
                person = self.state.person.clone(),
                machine = machine
            ),
        }
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

    pub(crate) fn url(&self, project_path: &str) -> String {
        format!(
            "{}/{project_path}.git",
            self.config.server.trim_end_matches('/')
        )
    }

    pub(crate) fn git(&self, id: u64, dir: &Path) -> Git {
        self.git_at(&folders::history_dir(&self.data_dir, id), dir)
    }

    /// Git with the history at `git_dir`, reaching the server as this client.
    pub(crate) fn git_at(&self, git_dir: &Path, dir: &Path) -> Git {
        Git::new(git_dir, dir, &self.config.name, &self.config.email)
            .with_token(&self.token)
            .with_token_file(&self.config.token_file, &self.config.server)
            .with_ca_file(self.config.ca_file.as_deref())
    }

    pub(crate) fn my_ref(&self) -> String {
        state::machine_ref(&self.config.person, &self.config.machine)
    }

    /// Finds a folder of the person's inventory by name (`report`) or full
    /// name (`alice/report`); the server refuses one the person may not see.
    pub(crate) fn find_project(&self, name: &str) -> Result<Project> {
        let name = name.trim().trim_end_matches('/');
        if name.contains('/') {
            return match self.api.project(name) {
                Ok(project) if project.is_folder() => Ok(project),
                Ok(_) => Err(Error::usage(tr!("not-a-saved-folder", name = name))),
                Err(ApiError::Status(404 | 403, _)) => {
                    Err(Error::failed(tr!("no-access", name = name)))
                }
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
            0 => Err(Error::usage(tr!(
                "no-folder-named",
                name = format!("{name:?}")
            ))),
            1 => Ok(matching.remove(0)),
            _ => Err(Error::usage(tr!(
                "several-named",
                name = format!("{name:?}"),
                folders = matching
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
}
