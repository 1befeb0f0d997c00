//! Catching up with the server, and bringing two sides together without
//! losing anything.

use time::OffsetDateTime;

use std::path::PathBuf;

use crate::beneath::{Problem, Root};
use crate::session::Notes;
use crate::state::Kind;
use crate::tr;
use crate::tree;
use crate::words;
use girofle_base::error::Result;

use super::{SERVER_MAIN, Work};

impl Work<'_> {
    /// Fetches, and acts on a take-over of this machine. True when the folder
    /// was taken over and its work kept aside (the action should stop: the
    /// notes say what happened).
    pub(crate) fn catch_up(&mut self, notes: &mut Notes) -> Result<bool> {
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
                        .unwrap_or_else(|| tr!("another-machine"));
                    let by = by
                        .strip_prefix(&format!("{}/", self.client.config.person))
                        .map(str::to_string)
                        .unwrap_or(by);
                    notes.say(match found.state.at {
                        Some(at) => tr!("taken-over-at", by = by, at = words::when(at)),
                        None => tr!("taken-over", by = by),
                    });
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
    pub(crate) fn bring_together(&mut self, notes: &mut Notes) -> Result<()> {
        if self.git.resolve(SERVER_MAIN)?.is_some() {
            self.refuse_unwritable(SERVER_MAIN)?;
        }
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
        // Files that would have to go through a link the server's version
        // put in place of a folder: by link, with where it points.
        let mut blocked: Vec<(String, PathBuf, Vec<String>)> = Vec::new();
        let mut left = Vec::new();
        let mut unplaced = Vec::new();
        let here = Root::open(&dir)?;
        let kept = Root::open(&aside)?;
        for file in tree::files(&aside)? {
            let outcome = match here.meta(&file) {
                Ok(None) => here
                    .copy_from(&kept, &file, &file)
                    .map(|()| added.push(file.clone())),
                Ok(Some(_)) => tree::same(&kept, &here, &file).map(|same| {
                    if !same {
                        pending.push(file.clone());
                    }
                }),
                Err(problem) => Err(problem),
            };
            match outcome {
                Ok(()) => {}
                Err(Problem::Link { root, at, to }) if root == dir => {
                    match blocked.iter_mut().find(|(link, _, _)| *link == at) {
                        Some((_, _, files)) => files.push(file),
                        None => blocked.push((at, to, vec![file])),
                    }
                }
                Err(Problem::Special(_)) => left.push(file),
                // The folder was already reset to the server's version:
                // stopping here would leave the rest of the person's files
                // only in a copy nobody was told of. Each one that cannot be
                // put back is named, with why, and stays in that copy.
                Err(problem) => unplaced.push(format!("{file} ({problem})")),
            }
        }
        if !unplaced.is_empty() {
            notes.say(format!(
                "{} of yours could not be put back in the folder and {} in the copy kept                  aside ({}): {}.",
                words::count(unplaced.len(), "file", "files"),
                if unplaced.len() == 1 { "is" } else { "are" },
                aside.display(),
                unplaced.join("; ")
            ));
        }
        for (link, to, files) in &blocked {
            notes.say(format!(
                "{} of yours {} not put back: in the server's version, {link} is a link to {} \
                 instead of a folder, and nothing is ever written through a link. {} in the copy \
                 kept aside: {}.",
                words::count(files.len(), "file", "files"),
                if files.len() == 1 { "was" } else { "were" },
                to.display(),
                if files.len() == 1 {
                    "It is"
                } else {
                    "They are"
                },
                files.join(", ")
            ));
        }
        if !left.is_empty() {
            notes.say(format!(
                "{} neither files nor links (left in the copy kept aside): {}.",
                if left.len() == 1 {
                    "This is"
                } else {
                    "These are"
                },
                left.join(", ")
            ));
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
                "{} from the server's: choose for each with `girofle-client resolve` \
                 (yours, the server's, or both): {}",
                words::count(self.folder.pending.len(), "file differs", "files differ"),
                self.folder.pending.join(", ")
            ));
            self.record_state(notes)?;
        }
        Ok(())
    }

    /// Once every choice is made: saves the result, ready to be sent.
    pub(crate) fn finish_together(&mut self, notes: &mut Notes) -> Result<()> {
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
