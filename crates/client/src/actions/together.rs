//! Two sides brought together, file by file, and changes thrown away:
//! `resolve`, `discard`.

use std::path::{Path, PathBuf};

use girofle_base::error::{Error, Result};

use super::{Keep, normalize};
use crate::session::{Client, Notes};
use crate::tr;
use crate::tree;

impl Client {
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
            return Err(Error::failed(tr!("unreachable-try-later")));
        }
        if work.server_ahead()? == 0 {
            notes.say(tr!("nothing-to-bring-together"));
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
                return Err(Error::usage(tr!("no-choice-waiting")));
            }
            notes.lines.extend(first.lines);
            if pending.is_empty() {
                return Ok((pending, notes));
            }
        }
        let mut work = self.work(folder)?;
        let aside = work
            .folder
            .aside
            .clone()
            .ok_or_else(|| Error::usage(tr!("no-choice-waiting")))?;
        for file in files {
            let file = normalize(file, &work.folder.dir);
            if !work.folder.pending.contains(&file) {
                return Err(Error::usage(if work.folder.pending.is_empty() {
                    tr!("not-waiting-none", file = file.clone())
                } else {
                    tr!(
                        "not-waiting",
                        file = file.clone(),
                        names = work.folder.pending.join(", ")
                    )
                }));
            }
            match keep {
                Keep::Mine => {
                    tree::copy_file(&aside, &file, &work.folder.dir, &file)
                        .map_err(|e| e.context(tr!("yours-not-put-back", file = file.clone())))?;
                    notes.say(tr!("kept-yours", file = file.clone()));
                }
                Keep::Server => notes.say(tr!("kept-servers", file = file.clone())),
                Keep::Both => {
                    let other = tree::both_name(&file, &self.config.machine);
                    tree::copy_file(&aside, &file, &work.folder.dir, &other)
                        .map_err(|e| e.context(tr!("yours-not-put-back", file = file.clone())))?;
                    notes.say(tr!("kept-both", file = file.clone(), other = other.clone()));
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
            .ok_or_else(|| Error::usage(tr!("no-version-yet")))?;
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
                            Error::usage(tr!(
                                "no-such-version",
                                version = text,
                                last = history.len()
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
                    &tr!(
                        "back-to-on",
                        version = number,
                        machine = self.config.machine.clone()
                    ),
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
            notes.say(tr!("back-newest", version = number));
        } else {
            notes.say(tr!("back-saved", version = number));
        }
        work.record_state(&mut notes)?;
        Ok((aside, notes))
    }
}
