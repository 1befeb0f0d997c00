//! Sending when the person leaves, and when another machine asks: the
//! requests left on the server by a refused `get`, the mark of a running
//! service, and sending only what the person saved.

use time::OffsetDateTime;

use crate::session::{Found, Notes};
use crate::state;
use crate::tr;
use girofle_base::error::Result;

use super::{Pushed, Work};

/// Where the server's girofle refs are kept locally (requests, marks).
const SERVER_GIROFLE: &str = "refs/remotes/origin-girofle/";

/// The local copy of a server ref under `refs/girofle/`, as last fetched.
fn fetched(reference: &str) -> String {
    format!(
        "{SERVER_GIROFLE}{}",
        reference.trim_start_matches("refs/girofle/")
    )
}

impl Work<'_> {
    /// A small commit with an empty tree saying `what`, for a request or a mark.
    fn note_commit(&self, what: &str) -> Result<String> {
        let tree = self.git.run(&["mktree"])?.trim().to_string();
        let text = format!(
            "girofle {what}\n\nby: {}/{}\nat: {}\n",
            self.client.config.person,
            self.client.config.machine,
            girofle_base::timefmt::rfc3339(OffsetDateTime::now_utc())
        );
        Ok(self
            .git
            .run(&["commit-tree", &tree, "-m", &text])?
            .trim()
            .to_string())
    }

    /// Asks the machine of `found` to send its changes (a request it sees at
    /// its next check). True when the server took the request.
    pub(crate) fn ask_to_send(&self, found: &Found) -> Result<bool> {
        let commit = self.note_commit("request to send")?;
        let reference = state::request_ref(&found.state.person, &found.state.machine);
        let args: Vec<String> = vec![
            "push".into(),
            "--porcelain".into(),
            "--force".into(),
            self.url(),
            format!("{commit}:{reference}"),
        ];
        Ok(self.push(&args)? == Pushed::Done)
    }

    /// Whether a service answering requests was running on the machine of
    /// `found` when the server was last fetched.
    pub(crate) fn is_listening(&self, found: &Found) -> Result<bool> {
        let reference = state::listening_ref(&found.state.person, &found.state.machine);
        Ok(self.git.resolve(&fetched(&reference))?.is_some())
    }

    /// The request to this machine, as last fetched: its commit.
    pub(crate) fn request_to_me(&self) -> Result<Option<String>> {
        let config = &self.client.config;
        self.git.resolve(&fetched(&state::request_ref(
            &config.person,
            &config.machine,
        )))
    }

    /// Removes the request `commit` to this machine (unless another came
    /// meanwhile: that one stays, for the next check).
    pub(crate) fn clear_request(&self, commit: &str) -> Result<()> {
        let config = &self.client.config;
        let reference = state::request_ref(&config.person, &config.machine);
        let args: Vec<String> = vec![
            "push".into(),
            "--porcelain".into(),
            format!("--force-with-lease={reference}:{commit}"),
            self.url(),
            format!(":{reference}"),
        ];
        self.push(&args)?;
        Ok(())
    }

    /// Marks (or unmarks) this machine as running a service that answers
    /// requests. Marking is skipped when the mark is there already.
    pub(crate) fn set_listening(&self, on: bool) -> Result<()> {
        let config = &self.client.config;
        let reference = state::listening_ref(&config.person, &config.machine);
        let there = self.git.resolve(&fetched(&reference))?.is_some();
        if on == there {
            return Ok(());
        }
        let update = if on {
            format!("{}:{reference}", self.note_commit("listening")?)
        } else {
            format!(":{reference}")
        };
        let args: Vec<String> = vec![
            "push".into(),
            "--porcelain".into(),
            "--force".into(),
            self.url(),
            update.clone(),
        ];
        if self.push(&args)? == Pushed::Done {
            let local = fetched(&reference);
            if on {
                let commit = update.split(':').next().unwrap_or_default().to_string();
                self.git.run(&["update-ref", &local, &commit])?;
            } else {
                self.git.run(&["update-ref", "-d", &local])?;
            }
        }
        Ok(())
    }

    /// Sends the versions the person saved and nothing else (unless
    /// `save_first`: the person chose "save and send when I leave"). Never
    /// brings the server's versions in: the person may be working. What
    /// happened goes to `notes`, named after the folder; the fetch is done.
    pub(crate) fn send_saved(&mut self, save_first: bool, notes: &mut Notes) -> Result<()> {
        let folder = self.folder.path.clone();
        if !self.online {
            notes.say(tr!("leave-offline", folder = folder));
            return Ok(());
        }
        if !self.folder.pending.is_empty() {
            notes.say(tr!("leave-pending", folder = folder));
            return self.record_state(notes);
        }
        if save_first && !self.local()?.unsaved.is_empty() {
            let message = tr!(
                "saved-on-leaving",
                machine = self.client.config.machine.clone()
            );
            self.save_version(&message)?;
        }
        let local = self.local()?;
        if local.unsent == 0 {
            if !local.unsaved.is_empty() {
                notes.say(tr!(
                    "leave-unsaved-kept",
                    folder = folder,
                    files = local.unsaved.len()
                ));
            }
            return self.record_state(notes);
        }
        if self.server_ahead()? > 0 {
            notes.say(tr!("leave-both", folder = folder));
            return self.record_state(notes);
        }
        match self.send(true)? {
            Pushed::Done => {
                notes.say(tr!(
                    "leave-sent",
                    folder = folder.clone(),
                    versions = local.unsent
                ));
                if !local.unsaved.is_empty() {
                    notes.say(tr!(
                        "leave-unsaved-kept",
                        folder = folder,
                        files = local.unsaved.len()
                    ));
                }
            }
            Pushed::Offline => notes.say(tr!("leave-offline", folder = folder)),
            Pushed::Behind => notes.say(tr!("leave-both", folder = folder)),
            Pushed::Stale => {
                // Taken over meanwhile: catching up keeps the work aside and says so.
                let mut more = Notes::default();
                self.catch_up(&mut more)?;
                notes.lines.extend(more.lines);
            }
        }
        Ok(())
    }
}
