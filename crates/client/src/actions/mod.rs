//! The actions behind the subcommands. Each returns what happened, in plain
//! words for the person (`notes`) and as data; the binary prints and asks.
//!
//! Every action on a bound folder starts by catching up with the server when
//! it can be reached: the machines' states are fetched, a take-over of this
//! machine is acted upon (its work is kept aside, never lost), and this
//! machine's own state is recorded if it changed. Offline, saving still
//! works; the server learns of the changes when the machine is back online.

mod leave;
mod projects;
mod review;
mod setup;
mod together;
mod versions;

use std::path::{Path, PathBuf};

use crate::api::Project;

pub use review::{Listed, Shown};
pub use setup::{SetupArgs, setup};

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
    /// The names of the versions prepared ahead, not saved yet.
    pub prepared: Vec<String>,
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
