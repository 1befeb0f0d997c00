//! The folder's changes since its last version, as prepared versions see
//! them, and the prepared versions kept for it and saved.
//!
//! Both the reading and the saving go through an index of their own
//! (`GIT_INDEX_FILE` in a temporary directory of the history): the folder and
//! the history's usual index stay as they are until the versions exist, so
//! a crash at any point leaves the folder as the person left it.

use std::path::PathBuf;

use anyhow::Context;

use crate::git::Git;
use crate::parts;
use crate::prepared::{Becomes, Change, Prepared, What, Whole};
use crate::tr;
use girofle_base::error::{Error, Result};

use super::Work;

/// A change with what the person is shown of it: the old text it is cut
/// from, for a part of a text file.
pub(crate) struct Seen {
    /// The change.
    pub(crate) change: Change,
    /// The file's text in the last version, for a part.
    pub(crate) old: Option<String>,
}

/// The start of the name of a temporary index's folder in the history.
const INDEX_PREFIX: &str = "girofle-index-";

/// One entry of a tree listing: mode and content id.
#[derive(Debug, PartialEq, Eq)]
struct Entry {
    mode: String,
    id: String,
}

impl Work<'_> {
    /// Where this folder's prepared versions are kept.
    fn prepared_dir(&self) -> PathBuf {
        self.client
            .data_dir
            .join("prepared")
            .join(self.folder.id.to_string())
    }

    /// Where a kept copy of the content `id` is.
    pub(crate) fn kept(&self, id: &str) -> PathBuf {
        self.prepared_dir().join("kept").join(id)
    }

    /// The prepared versions of this folder (none when never made).
    pub(crate) fn load_prepared(&self) -> Result<Prepared> {
        let file = self.prepared_dir().join("versions.json");
        let mut prepared: Prepared = match std::fs::read(&file) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|error| {
                Error::failed(tr!(
                    "prepared-unreadable",
                    file = file.display().to_string(),
                    error = error.to_string()
                ))
            })?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Prepared::default(),
            Err(error) => {
                return Err(anyhow::Error::from(error)
                    .context(crate::tr!(
                        "cannot-read-file",
                        file = file.display().to_string()
                    ))
                    .into());
            }
        };
        // A save stopped midway: once its versions are the folder's, they
        // are no longer prepared; before that, they still are.
        if let Some(saved) = prepared.saved_as.take()
            && self
                .git
                .output(&["merge-base", "--is-ancestor", &saved, "HEAD"])?
                .ok
        {
            prepared = Prepared::default();
        }
        Ok(prepared)
    }

    /// Keeps the prepared versions, atomically; the copies of whole files
    /// they no longer hold are removed.
    pub(crate) fn store_prepared(&self, prepared: &Prepared) -> Result<()> {
        let dir = self.prepared_dir();
        std::fs::create_dir_all(dir.join("kept"))
            .with_context(|| crate::tr!("cannot-create", dir = dir.display().to_string()))?;
        let json = serde_json::to_vec_pretty(prepared).map_err(anyhow::Error::from)?;
        girofle_base::atomic::write(&dir.join("versions.json"), &json, 0o600)?;
        let held: Vec<&str> = prepared
            .versions
            .iter()
            .flat_map(|v| &v.changes)
            .filter_map(|c| match &c.what {
                What::Whole(Some(whole)) => Some(whole.id.as_str()),
                _ => None,
            })
            .collect();
        if let Ok(entries) = std::fs::read_dir(dir.join("kept")) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                // Only once the list without it is written: a crash before
                // leaves a copy too many, never one too few.
                if !held.contains(&name.as_str()) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        Ok(())
    }

    /// Keeps a copy of the content of each whole file among `changes`, so
    /// that it survives the folder changing before the versions are saved.
    pub(crate) fn keep_copies(&self, changes: &[Change]) -> Result<()> {
        for change in changes {
            if let What::Whole(Some(whole)) = &change.what {
                let path = self.kept(&whole.id);
                if path.exists() {
                    continue;
                }
                let bytes = self.git.bytes(&["cat-file", "blob", &whole.id], None)?;
                std::fs::create_dir_all(path.parent().expect("kept/ is a folder"))?;
                girofle_base::atomic::write(&path, &bytes, 0o600)?;
            }
        }
        Ok(())
    }

    /// A history handle on an index of its own in a temporary directory
    /// (removed when the directory is dropped).
    fn own_index(&self) -> Result<(tempfile::TempDir, Git)> {
        // The folder is held by this client (the registry's lock): an index
        // folder already there was left by one that stopped midway.
        if let Ok(entries) = std::fs::read_dir(&self.git.git_dir) {
            for entry in entries.flatten() {
                if entry
                    .file_name()
                    .to_string_lossy()
                    .starts_with(INDEX_PREFIX)
                {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let dir = tempfile::Builder::new()
            .prefix(INDEX_PREFIX)
            .tempdir_in(&self.git.git_dir)
            .with_context(|| crate::tr!("cannot-temp"))?;
        let index = dir.path().join("index");
        // The usual index's file times spare reading unchanged files again.
        let usual = self.git.git_dir.join("index");
        if usual.is_file() {
            std::fs::copy(&usual, &index).with_context(|| crate::tr!("cannot-copy-index"))?;
        }
        let git = self.git.clone().with_index(&index);
        Ok((dir, git))
    }

    /// Every change since the last version, file by file in the order of
    /// their names, a text file's parts in the file's order.
    pub(crate) fn changes(&self) -> Result<Vec<Seen>> {
        let head = self
            .git
            .resolve("HEAD")?
            .ok_or_else(|| Error::usage(tr!("no-version-yet")))?;
        let (_dir, git) = self.own_index()?;
        git.run(&["add", "--all", "--force", "--", ":/"])?;
        let raw = git.bytes(
            &["diff-index", "--cached", "-z", "--no-renames", &head],
            None,
        )?;
        let mut out = Vec::new();
        for (old, new, path) in raw_entries(&raw) {
            let base = old.as_ref().map(|e| e.id.clone());
            let text_of = |entry: &Option<Entry>| -> Result<Option<String>> {
                match entry {
                    Some(e) if e.mode.starts_with("100") => {
                        let bytes = self.git.bytes(&["cat-file", "blob", &e.id], None)?;
                        Ok(parts::is_text(&bytes)
                            .then(|| String::from_utf8(bytes).unwrap_or_default()))
                    }
                    _ => Ok(None),
                }
            };
            let same_mode = matches!((&old, &new), (Some(a), Some(b)) if a.mode == b.mode);
            let (old_text, new_text) = if same_mode {
                (text_of(&old)?, text_of(&new)?)
            } else {
                (None, None)
            };
            let cut = match (&old_text, &new_text) {
                (Some(a), Some(b)) => parts::split(a, b),
                _ => vec![],
            };
            if cut.is_empty() {
                out.push(Seen {
                    change: Change {
                        path,
                        base,
                        what: What::Whole(new.map(|e| Whole {
                            mode: e.mode,
                            id: e.id,
                        })),
                    },
                    old: None,
                });
                continue;
            }
            for part in cut {
                out.push(Seen {
                    change: Change {
                        path: path.clone(),
                        base: base.clone(),
                        what: What::Part(part),
                    },
                    old: old_text.clone(),
                });
            }
        }
        Ok(out)
    }

    /// Saves the prepared versions in order, one version each, on top of
    /// the last one; the folder is not touched. Returns the newest version.
    pub(crate) fn save_prepared(&self, prepared: &Prepared) -> Result<String> {
        let head = self
            .git
            .resolve("HEAD")?
            .ok_or_else(|| Error::usage(tr!("no-version-yet")))?;
        let listing = self
            .git
            .bytes(&["ls-tree", "-r", "-z", "--full-tree", &head], None)?;
        let mut modes = std::collections::HashMap::new();
        let mut texts = std::collections::HashMap::new();
        for record in listing.split(|b| *b == 0).filter(|r| !r.is_empty()) {
            let record = String::from_utf8_lossy(record);
            let Some((meta, path)) = record.split_once('\t') else {
                continue;
            };
            let mut fields = meta.split(' ');
            let (Some(mode), _, Some(id)) = (fields.next(), fields.next(), fields.next()) else {
                continue;
            };
            modes.insert(path.to_string(), mode.to_string());
            texts.insert(path.to_string(), id.to_string());
        }
        let old = |path: &str| -> Option<String> {
            let bytes = self
                .git
                .bytes(&["cat-file", "blob", texts.get(path)?], None)
                .ok()?;
            String::from_utf8(bytes).ok()
        };
        let steps = prepared.becomes(&old).map_err(|r| Error::failed(r.0))?;
        let (_dir, git) = self.own_index()?;
        git.run(&["read-tree", &head])?;
        let mut parent = head;
        for (version, files) in prepared.versions.iter().zip(steps) {
            let mut info = Vec::new();
            for (path, becomes) in files {
                let (mode, id) = match becomes {
                    Becomes::Text(text) => {
                        let id =
                            git.bytes(&["hash-object", "-w", "--stdin"], Some(text.as_bytes()))?;
                        let mode = modes.get(&path).cloned().unwrap_or_else(|| "100644".into());
                        (mode, String::from_utf8_lossy(&id).trim().to_string())
                    }
                    Becomes::Whole(Some(whole)) => {
                        self.ensure_blob(&git, &whole.id)?;
                        (whole.mode, whole.id)
                    }
                    Becomes::Whole(None) => ("0".into(), "0".repeat(parent.len())),
                };
                info.extend_from_slice(format!("{mode} {id}\t{path}\0").as_bytes());
            }
            git.bytes(&["update-index", "-z", "--index-info"], Some(&info))?;
            let tree = git.run(&["write-tree"])?;
            let commit = git.run(&[
                "commit-tree",
                tree.trim(),
                "-p",
                &parent,
                "-m",
                &version.name,
            ])?;
            parent = commit.trim().to_string();
        }
        Ok(parent)
    }

    /// Puts the content `id` back in the history from its kept copy when
    /// the history lacks it.
    fn ensure_blob(&self, git: &Git, id: &str) -> Result<()> {
        if git.output(&["cat-file", "-e", id])?.ok {
            return Ok(());
        }
        let bytes = std::fs::read(self.kept(id)).with_context(|| {
            crate::tr!(
                "cannot-read-file",
                file = self.kept(id).display().to_string()
            )
        })?;
        let written = git.bytes(&["hash-object", "-w", "--stdin"], Some(&bytes))?;
        if String::from_utf8_lossy(&written).trim() != id {
            return Err(Error::failed(tr!(
                "kept-damaged",
                file = self.kept(id).display().to_string()
            )));
        }
        Ok(())
    }
}

/// The entries of `git diff-index -z` output: the old and new state of each
/// path (`None` where it is absent).
fn raw_entries(raw: &[u8]) -> Vec<(Option<Entry>, Option<Entry>, String)> {
    let mut out = Vec::new();
    let mut fields = raw.split(|b| *b == 0);
    while let (Some(meta), Some(path)) = (fields.next(), fields.next()) {
        let meta = String::from_utf8_lossy(meta);
        let parts: Vec<&str> = meta.trim_start_matches(':').split(' ').collect();
        if parts.len() < 5 {
            continue;
        }
        let entry = |mode: &str, id: &str| {
            (mode != "000000").then(|| Entry {
                mode: mode.to_string(),
                id: id.to_string(),
            })
        };
        out.push((
            entry(parts[0], parts[2]),
            entry(parts[1], parts[3]),
            String::from_utf8_lossy(path).into_owned(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_of_a_comparison_are_read_with_any_name() {
        let zero = "0".repeat(40);
        let (a, b) = ("a".repeat(40), "b".repeat(40));
        let raw = format!(
            ":100644 100644 {a} {b} M\0intro.txt\0\
             :000000 100755 {zero} {b} A\0new, with\ta tab.sh\0\
             :120000 000000 {a} {zero} D\0link\0"
        );
        let entries = raw_entries(raw.as_bytes());
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].2, "intro.txt");
        assert_eq!(
            entries[0].0,
            Some(Entry {
                mode: "100644".into(),
                id: a.clone()
            })
        );
        assert_eq!(entries[1].0, None);
        assert_eq!(entries[1].1.as_ref().unwrap().mode, "100755");
        assert_eq!(entries[1].2, "new, with\ta tab.sh");
        assert_eq!(entries[2].1, None);
        assert_eq!(entries[2].0.as_ref().unwrap().mode, "120000");
        assert!(raw_entries(b"").is_empty());
    }
}
