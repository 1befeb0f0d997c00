//! The machinery under the actions: one folder being worked on, its history
//! and the server's copy of it, the machine states and their
//! compare-and-swap, and bringing two sides together without losing anything.

mod asked;
mod catch_up;
mod changes;
mod states;

use std::path::Path;

use crate::beneath::{self};
use crate::config;
use crate::folders::{Folder, Locked};
use crate::git::{self, Git};
use crate::session::{Client, Found};
use crate::state::{self, MachineState};
use crate::tr;
pub(crate) use changes::Seen;
use girofle_base::error::{Error, Result};

/// Where the server's branch is kept locally.
pub(crate) const SERVER_MAIN: &str = "refs/remotes/origin/main";
/// Where the server's machine states are kept locally.
pub(crate) const SERVER_STATES: &str = "refs/remotes/origin-girofle/machines/";

/// The outcome of pushing to the server.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// The server took it.
    Done,
    /// The server could not be reached.
    Offline,
    /// A machine state moved since it was read (the compare-and-swap lost).
    Stale,
    /// The server has versions this machine lacks.
    Behind,
}

/// One folder being worked on.
pub(crate) struct Work<'a> {
    /// The configured client.
    pub(crate) client: &'a Client,
    /// The folders bound here, locked while the folder is worked on.
    pub(crate) registry: Locked,
    /// This folder's record.
    pub(crate) folder: Folder,
    /// Its history.
    pub(crate) git: Git,
    /// Whether the server answered the last fetch.
    pub(crate) online: bool,
}

/// What this machine has that the server lacks.
pub(crate) struct Local {
    /// Files changed since the last version: a letter and a path.
    pub(crate) unsaved: Vec<(char, String)>,
    /// Versions saved here and not sent.
    pub(crate) unsent: usize,
}

impl Work<'_> {
    /// The folder's address on the server, for git.
    pub(crate) fn url(&self) -> String {
        self.client.url(&self.folder.path)
    }

    /// Fetches the server's branch and machine states; false when offline.
    pub(crate) fn fetch(&mut self) -> Result<bool> {
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

    /// Every machine's state as last fetched from the server.
    pub(crate) fn server_states(&self) -> Result<Vec<Found>> {
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

    /// Unsaved changes and versions not sent.
    pub(crate) fn local(&self) -> Result<Local> {
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
    pub(crate) fn server_ahead(&self) -> Result<usize> {
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

    /// Refuses while files wait for the person's choice.
    pub(crate) fn refuse_while_pending(&self) -> Result<()> {
        if self.folder.pending.is_empty() {
            return Ok(());
        }
        Err(Error::usage(tr!(
            "still-pending",
            files = self.folder.pending.len()
        )))
    }

    /// Refuses a version (`revision`) holding paths git would refuse to
    /// write (a `.git` folder, `..`): they are named to the person, and
    /// nothing of that version is written.
    pub(crate) fn refuse_unwritable(&self, revision: &str) -> Result<()> {
        let listing = self.git.run(&[
            "ls-tree",
            "-r",
            "-z",
            "--full-tree",
            "--name-only",
            revision,
        ])?;
        let refused: Vec<String> = listing
            .split('\0')
            .filter(|p| !p.is_empty())
            .filter_map(|p| beneath::refused_name(p).map(|why| format!("{p} ({why})")))
            .collect();
        if refused.is_empty() {
            return Ok(());
        }
        Err(Error::failed(tr!(
            "unwritable",
            folder = self.folder.path.clone(),
            files = refused.len(),
            names = refused.join(", ")
        )))
    }

    /// Saves every file as it is now; returns how many changed.
    pub(crate) fn save_version(&mut self, message: &str) -> Result<usize> {
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
}

/// The server's refusal in plain words (git's and GitLab's own messages
/// speak of repositories and pushes).
fn refusal(message: &str, folder: &str) -> String {
    let text = message.to_ascii_lowercase();
    if let Some(problem) = certificate_problem(&text) {
        problem
    } else if text.contains("401")
        || text.contains("authentication failed")
        || text.contains("access denied")
        || text.contains("could not read username")
    {
        tr!("token-refused")
    } else if text.contains("not allowed") || text.contains("403") {
        tr!("read-only", folder = folder)
    } else {
        tr!("access-refused", folder = folder)
    }
}

/// A certificate git refused, in the words the API's refusal uses: git's
/// TLS (GnuTLS on Debian, OpenSSL elsewhere) speaks of verification, not of
/// what to do. `text` is lower case.
fn certificate_problem(text: &str) -> Option<String> {
    let tls = text.contains("certificate verification failed")
        || text.contains("ssl certificate problem")
        || text.contains("certificate is not trusted")
        || text.contains("no alternative certificate subject name")
        || text.contains("ssl: certificate subject name");
    if !tls {
        None
    } else if text.contains("expired") {
        Some(tr!("api-certificate-expired"))
    } else if text.contains("subject name") || text.contains("does not match") {
        Some(tr!("api-certificate-other-name"))
    } else {
        Some(tr!("api-certificate-unknown-authority"))
    }
}

impl Client {
    /// The folder that holds `path` (the current directory by default).
    pub(crate) fn work(&self, path: Option<&Path>) -> Result<Work<'_>> {
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
                Error::usage(tr!("not-in-saved-folder", dir = path.display().to_string()))
            })?;
        if !folder.dir.is_dir() {
            return Err(Error::failed(tr!(
                "folder-missing",
                dir = folder.dir.display().to_string()
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_git_refused_is_said_as_such_not_as_a_lost_folder() {
        let gnutls = "fatal: unable to access 'https://10.0.0.7:8443/alice/report.git/': \
                      server certificate verification failed. CAfile: /etc/ssl/certs/ca-certificates.crt CRLfile: none";
        assert!(refusal(gnutls, "alice/report").contains("authority this machine does not trust"));
        let openssl = "fatal: unable to access 'https://x/': SSL certificate problem: certificate has expired";
        assert!(refusal(openssl, "alice/report").contains("has expired"));
        let name = "fatal: unable to access 'https://x/': SSL: no alternative certificate subject name matches target host name 'x'";
        assert!(refusal(name, "alice/report").contains("another name"));
        let gone = "remote: The project you were looking for could not be found.\nfatal: repository not found";
        assert!(refusal(gone, "alice/report").contains("does not exist any more"));
    }
}
