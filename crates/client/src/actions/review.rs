//! Going through the changes and sorting them into prepared versions:
//! `review`, `prepare`, `prepared` and its `--remove`, `--rename`, `--save`.
//!
//! Until `--save` nothing here touches the folder: the prepared versions are
//! kept in the client's data (whole files copied there too), so that a crash
//! or a closed page loses none of them.

use std::path::{Path, PathBuf};

use girofle_base::error::{Error, Result};
use serde::Serialize;

use crate::parts;
use crate::prepared::{self, Change, Prepared, What};
use crate::session::{Client, Notes};
use crate::tr;
use crate::tree;
use crate::work::{Seen, Work};

/// Unchanged lines shown around a changed passage.
const AROUND: usize = 3;

/// One change as `review` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    /// Its number in the list, from 1.
    pub number: usize,
    /// `intro.txt, part 2 of 2`.
    pub label: String,
    /// The file.
    pub path: String,
    /// The prepared version that holds it, if one does.
    pub prepared: Option<String>,
    /// For a part of a text file: its lines, each marked `' '` (unchanged,
    /// around it), `'-'` (taken out) or `'+'` (put in).
    pub lines: Vec<(char, String)>,
    /// For a whole file: whether it was in the last version (to open as it was).
    pub before: bool,
    /// For a whole file: whether it is there now (to open as it is).
    pub after: bool,
}

/// One prepared version as `prepared` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Shown {
    /// Its name.
    pub name: String,
    /// What it holds: a label each, and whether it still applies (its file
    /// did not change since it was put in).
    pub holds: Vec<(String, bool)>,
}

impl Client {
    /// `review`: every change since the last version, numbered.
    pub fn review(&self, folder: Option<&Path>) -> Result<Vec<Listed>> {
        let work = self.work(folder)?;
        work.refuse_while_pending()?;
        let seen = work.changes()?;
        let prepared = work.load_prepared()?;
        Ok(listed(&seen, &prepared))
    }

    /// The change numbered `number` of a whole file, as it was in the last
    /// version (`now` false) or as it is now: its name and its bytes, read
    /// from the history (never through the folder, so never through a link).
    pub fn review_file(
        &self,
        folder: Option<&Path>,
        number: usize,
        now: bool,
    ) -> Result<(String, Vec<u8>)> {
        let work = self.work(folder)?;
        let seen = work.changes()?;
        let change = &seen
            .get(number.wrapping_sub(1))
            .ok_or_else(|| Error::usage(tr!("no-change-any-more", number = number)))?
            .change;
        let id = match (&change.what, now) {
            (What::Whole(Some(whole)), true) => Some(whole.id.clone()),
            (What::Whole(_), false) => change.base.clone(),
            _ => None,
        }
        .ok_or_else(|| {
            Error::usage(if now {
                tr!("nothing-to-open-now", file = change.path.clone())
            } else {
                tr!("nothing-to-open-was", file = change.path.clone())
            })
        })?;
        Ok((
            change.path.clone(),
            work.git.bytes(&["cat-file", "blob", &id], None)?,
        ))
    }

    /// `prepare NAME N...`: puts the changes numbered `numbers` (as `review`
    /// lists them) into the prepared version `name`.
    pub fn prepare(&self, folder: Option<&Path>, name: &str, numbers: &[usize]) -> Result<Notes> {
        let work = self.work(folder)?;
        work.refuse_while_pending()?;
        let seen = work.changes()?;
        let mut chosen = Vec::new();
        for &number in numbers {
            let change = seen
                .get(number.wrapping_sub(1))
                .ok_or_else(|| {
                    Error::usage(match seen.len() {
                        0 => tr!("no-change-since"),
                        n => tr!("no-change-number", number = number, last = n),
                    })
                })?
                .change
                .clone();
            if !chosen.contains(&change) {
                chosen.push(change);
            }
        }
        let mut prepared = work.load_prepared()?;
        let was_new = prepared.find(name).is_none();
        work.keep_copies(&chosen)?;
        let emptied = prepared.put(name, &chosen).map_err(|r| Error::usage(r.0))?;
        work.store_prepared(&prepared)?;
        let mut notes = Notes::default();
        let name = name.trim();
        notes.say(if was_new {
            tr!("put-in-new", changes = chosen.len(), name = name)
        } else {
            tr!("put-in", changes = chosen.len(), name = name)
        });
        for gone in emptied {
            notes.say(tr!("prepared-gone", name = gone));
        }
        notes.say(tr!("folder-unchanged-until-save"));
        Ok(notes)
    }

    /// `prepared`: the prepared versions in order, with what each holds.
    pub fn prepared(&self, folder: Option<&Path>) -> Result<Vec<Shown>> {
        let work = self.work(folder)?;
        let prepared = work.load_prepared()?;
        let seen = work.changes()?;
        Ok(shown(&seen, &prepared))
    }

    /// `prepared --remove NAME`: the others keep their order; its changes
    /// are left out again.
    pub fn prepared_remove(&self, folder: Option<&Path>, name: &str) -> Result<Notes> {
        let work = self.work(folder)?;
        let mut prepared = work.load_prepared()?;
        let removed = prepared.remove(name).map_err(|r| Error::usage(r.0))?;
        work.store_prepared(&prepared)?;
        let mut notes = Notes::default();
        notes.say(tr!(
            "prepared-removed",
            name = removed.name.clone(),
            changes = removed.changes.len()
        ));
        Ok(notes)
    }

    /// `prepared --rename OLD NEW`, in its place.
    pub fn prepared_rename(&self, folder: Option<&Path>, old: &str, new: &str) -> Result<Notes> {
        let work = self.work(folder)?;
        let mut prepared = work.load_prepared()?;
        prepared.rename(old, new).map_err(|r| Error::usage(r.0))?;
        work.store_prepared(&prepared)?;
        let mut notes = Notes::default();
        notes.say(tr!("prepared-renamed", old = old.trim(), new = new.trim()));
        Ok(notes)
    }

    /// `prepared --save`: saves the prepared versions in order, each as a
    /// version of its name; then what was left out is discarded from the
    /// folder, kept first in a dated copy beside it (returned).
    pub fn prepared_save(&self, folder: Option<&Path>) -> Result<(Option<PathBuf>, Notes)> {
        let mut work = self.work(folder)?;
        let mut notes = Notes::default();
        if work.catch_up(&mut notes)? {
            return Err(Error::failed(notes.lines.join("\n")));
        }
        work.refuse_while_pending()?;
        let prepared = work.load_prepared()?;
        if prepared.versions.is_empty() {
            return Err(Error::usage(tr!("nothing-prepared")));
        }
        let seen = work.changes()?;
        let now: Vec<Change> = seen.iter().map(|s| s.change.clone()).collect();
        let stale = prepared.stale(&now);
        if !stale.is_empty() {
            let which: Vec<String> = stale
                .iter()
                .map(|(name, change)| {
                    tr!(
                        "stale-one",
                        name = name.to_string(),
                        file = change.path.clone()
                    )
                })
                .collect();
            return Err(Error::failed(tr!(
                "stale",
                changes = stale.len(),
                which = which.join(", ")
            )));
        }
        let head = work.git.resolve("HEAD")?.unwrap_or_default();
        let newest = work.save_prepared(&prepared)?;
        let mut saving = prepared.clone();
        saving.saved_as = Some(newest.clone());
        work.store_prepared(&saving)?;
        work.git.run(&["update-ref", "HEAD", &newest, &head])?;
        // Saved: from here the versions hold the prepared changes.
        work.store_prepared(&Prepared::default())?;
        for version in &prepared.versions {
            notes.say(tr!(
                "saved-prepared",
                name = version.name.clone(),
                changes = version.changes.len()
            ));
        }
        let aside = discard_left_out(&mut work)?;
        match &aside {
            Some(aside) => notes.say(tr!("left-out-discarded", dir = aside.display().to_string())),
            None => notes.say(tr!("nothing-left-out")),
        }
        work.record_state(&mut notes)?;
        Ok((aside, notes))
    }
}

/// Remakes the folder at its newest version when changes remain that no
/// version holds, the folder as it was moved aside first; `None` when
/// nothing remains (the folder is then left as it is).
fn discard_left_out(work: &mut Work<'_>) -> Result<Option<PathBuf>> {
    let left = work.changes()?;
    if left.is_empty() {
        work.git.run(&["read-tree", "HEAD"])?;
        let _ = work.git.output(&["update-index", "-q", "--refresh"]);
        return Ok(None);
    }
    let dir = work.folder.dir.clone();
    let aside = tree::move_aside(&dir)?;
    std::fs::create_dir(&dir)?;
    if let Err(error) = work.git.run(&["read-tree", "--reset", "-u", "HEAD"]) {
        // The versions are saved; the folder goes back as it was, so that
        // nothing the person sees is lost.
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::rename(&aside, &dir);
        return Err(error);
    }
    Ok(Some(aside))
}

fn listed(seen: &[Seen], prepared: &Prepared) -> Vec<Listed> {
    let changes: Vec<Change> = seen.iter().map(|s| s.change.clone()).collect();
    let labels = prepared::labels(&changes);
    seen.iter()
        .zip(labels)
        .enumerate()
        .map(|(index, (seen, label))| Listed {
            number: index + 1,
            label,
            path: seen.change.path.clone(),
            prepared: prepared.holder(&seen.change).map(str::to_string),
            lines: match (&seen.change.what, &seen.old) {
                (What::Part(part), Some(old)) => parts::shown(old, part, AROUND)
                    .into_iter()
                    .map(|(mark, line)| (mark, line.trim_end_matches(['\n', '\r']).to_string()))
                    .collect(),
                _ => vec![],
            },
            before: matches!(seen.change.what, What::Whole(_)) && seen.change.base.is_some(),
            after: matches!(seen.change.what, What::Whole(Some(_))),
        })
        .collect()
}

fn shown(seen: &[Seen], prepared: &Prepared) -> Vec<Shown> {
    let changes: Vec<Change> = seen.iter().map(|s| s.change.clone()).collect();
    let labels = prepared::labels(&changes);
    prepared
        .versions
        .iter()
        .map(|version| Shown {
            name: version.name.clone(),
            holds: version
                .changes
                .iter()
                .map(|change| match changes.iter().position(|c| c == change) {
                    Some(i) => (labels[i].clone(), true),
                    None => (stale_label(change), false),
                })
                .collect(),
        })
        .collect()
}

/// A change no longer among the folder's, named by its file and what it
/// did (its label's number is gone with it).
fn stale_label(change: &Change) -> String {
    match &change.what {
        What::Part(part) => tr!(
            "label-part-at",
            file = change.path.clone(),
            line = part.at + 1,
            lines = part.new.len()
        ),
        What::Whole(None) => tr!("label-removed", file = change.path.clone()),
        What::Whole(Some(_)) => tr!("label-whole", file = change.path.clone()),
    }
}
