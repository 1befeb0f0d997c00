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
        notes.say(tr!("kept-as-it-was", dir = aside.display().to_string()));
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
            notes.say(tr!(
                "unplaced",
                files = unplaced.len(),
                dir = aside.display().to_string(),
                names = unplaced.join("; ")
            ));
        }
        for (link, to, files) in &blocked {
            notes.say(tr!(
                "blocked-by-link",
                files = files.len(),
                link = link.clone(),
                to = to.display().to_string(),
                names = files.join(", ")
            ));
        }
        if !left.is_empty() {
            notes.say(tr!(
                "neither-files-nor-links",
                files = left.len(),
                names = left.join(", ")
            ));
        }
        if !added.is_empty() {
            notes.say(tr!(
                "added-back",
                files = added.len(),
                names = added.join(", ")
            ));
        }
        self.folder.aside = Some(aside);
        self.folder.pending = pending;
        self.registry.put(self.folder.clone())?;
        if self.folder.pending.is_empty() {
            self.finish_together(notes)?;
        } else {
            notes.say(tr!(
                "files-differ",
                files = self.folder.pending.len(),
                names = self.folder.pending.join(", ")
            ));
            self.record_state(notes)?;
        }
        Ok(())
    }

    /// Once every choice is made: saves the result, ready to be sent.
    pub(crate) fn finish_together(&mut self, notes: &mut Notes) -> Result<()> {
        let n = self.save_version(&tr!(
            "together-on",
            machine = self.client.config.machine.clone()
        ))?;
        if n > 0 {
            notes.say(tr!("all-chosen-saved"));
        } else {
            notes.say(tr!("all-chosen-server"));
        }
        if let Some(aside) = &self.folder.aside {
            notes.say(tr!("copy-stays", dir = aside.display().to_string()));
        }
        self.folder.aside = None;
        self.registry.put(self.folder.clone())?;
        self.record_state(notes)
    }
}
