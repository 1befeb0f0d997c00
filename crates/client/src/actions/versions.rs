//! Versions saved, sent and shown: `save`, `sync`, `status`.

use std::path::Path;

use girofle_base::error::{Error, Result};
use time::OffsetDateTime;

use super::Status;
use crate::session::{Client, Notes};
use crate::tr;
use crate::words;
use crate::work::{Pushed, SERVER_MAIN};

impl Client {
    /// `save [MESSAGE]`: a new version of every file as it is now.
    pub fn save(&self, folder: Option<&Path>, message: Option<&str>) -> Result<Notes> {
        let mut work = self.work(folder)?;
        let mut notes = Notes::default();
        if work.catch_up(&mut notes)? {
            return Err(Error::failed(notes.lines.join("\n")));
        }
        work.refuse_while_pending()?;
        let default = tr!("saved-on", machine = self.config.machine.clone());
        match work.save_version(message.unwrap_or(&default))? {
            0 => notes.say(tr!("nothing-changed")),
            n => notes.say(tr!("saved-version", files = n)),
        }
        work.record_state(&mut notes)?;
        if !work.online {
            notes.say(tr!("saved-offline"));
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
            return Err(Error::failed(tr!("unreachable-nothing-sent")));
        }
        work.refuse_while_pending()?;
        let local = work.local()?;
        let server = work.git.resolve(SERVER_MAIN)?;
        let ahead = work.server_ahead()?;
        if ahead > 0 {
            if local.unsaved.is_empty() && local.unsent == 0 {
                work.refuse_unwritable(SERVER_MAIN)?;
                work.git.run(&["reset", "--quiet", "--hard", SERVER_MAIN])?;
                notes.say(tr!("brought-in", versions = ahead));
                work.record_state(&mut notes)?;
                return Ok(notes);
            }
            return Err(Error::failed(tr!("both-ahead", versions = ahead)));
        }
        if !local.unsaved.is_empty() {
            let n = work.save_version(&tr!("saved-on", machine = self.config.machine.clone()))?;
            notes.say(tr!("saved-first", files = n));
        }
        let head = work.git.resolve("HEAD")?;
        if head.is_some() && head == server {
            notes.say(tr!("all-on-server"));
            work.record_state(&mut notes)?;
            return Ok(notes);
        }
        match work.send(true)? {
            Pushed::Done => notes.say(tr!("sent")),
            Pushed::Offline => {
                return Err(Error::failed(tr!("unreachable-nothing-sent")));
            }
            Pushed::Behind => {
                return Err(Error::failed(tr!("server-moved")));
            }
            Pushed::Stale => {
                let mut more = Notes::default();
                if work.catch_up(&mut more)? {
                    return Err(Error::failed(
                        std::iter::once(tr!("sent-none-taken-over"))
                            .chain(more.lines)
                            .collect::<Vec<_>>()
                            .join("\n"),
                    ));
                }
                return Err(Error::failed(tr!("sent-none-raced")));
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
                prepared: work
                    .load_prepared()?
                    .versions
                    .into_iter()
                    .map(|v| v.name)
                    .collect(),
            },
            notes,
        ))
    }
}
