//! What the previous copy can tell about a file: its MANIFEST, read in path
//! order as the walk goes.

use std::fs::Metadata;
use std::path::{Path, PathBuf};

use crate::manifest::{EntryLines, ManifestReader};
use crate::{Entry, Kind, MANIFEST, entry_matches, lstat, same_metadata};

/// What the previous copy can tell about a file.
pub(super) enum Previous {
    None,
    /// Its MANIFEST, read as the walk goes.
    Manifest {
        root: PathBuf,
        entries: Option<Box<Lookahead<ManifestReader>>>,
    },
    /// No MANIFEST: its files are `stat`ed.
    Tree(PathBuf),
}

impl Previous {
    pub(super) fn open(root: Option<&Path>) -> Previous {
        let Some(root) = root else {
            return Previous::None;
        };
        // A MANIFEST that cannot be read leaves the tree to answer.
        match ManifestReader::open(&root.join(MANIFEST)).and_then(Lookahead::new) {
            Ok(entries) => Previous::Manifest {
                root: root.to_path_buf(),
                entries: Some(Box::new(entries)),
            },
            Err(_) => Previous::Tree(root.to_path_buf()),
        }
    }

    /// The previous copy's file at `relative` when it has this metadata,
    /// with its checksum when known.
    pub(super) fn twin(
        &mut self,
        relative: &Path,
        metadata: &Metadata,
    ) -> anyhow::Result<Option<(PathBuf, Option<String>)>> {
        match self {
            Previous::None => Ok(None),
            Previous::Manifest { root, entries } => {
                let Some(reader) = entries else {
                    return Ok(None);
                };
                match reader.find(relative) {
                    Ok(Some(entry)) if entry_matches(&entry, Kind::File, metadata) => {
                        Ok(Some((root.join(relative), Some(entry.checksum))))
                    }
                    Ok(_) => Ok(None),
                    // A damaged MANIFEST: what follows is copied, not linked.
                    Err(_) => {
                        *entries = None;
                        Ok(None)
                    }
                }
            }
            Previous::Tree(root) => {
                let candidate = root.join(relative);
                Ok(match lstat(&candidate)? {
                    Some(found) if found.is_file() && same_metadata(&found, metadata) => {
                        Some((candidate, None))
                    }
                    _ => None,
                })
            }
        }
    }
}

/// Something that yields entries in path order.
pub(crate) trait EntrySource {
    fn next_entry(&mut self) -> anyhow::Result<Option<Entry>>;
}

impl EntrySource for ManifestReader {
    fn next_entry(&mut self) -> anyhow::Result<Option<Entry>> {
        ManifestReader::next_entry(self)
    }
}

impl EntrySource for EntryLines {
    fn next_entry(&mut self) -> anyhow::Result<Option<Entry>> {
        EntryLines::next_entry(self)
    }
}

/// An entry stream with one entry of look-ahead, to merge against a walk.
pub(crate) struct Lookahead<S> {
    source: S,
    pub(super) next: Option<Entry>,
}

impl<S: EntrySource> Lookahead<S> {
    pub(crate) fn new(mut source: S) -> anyhow::Result<Lookahead<S>> {
        let next = source.next_entry()?;
        Ok(Lookahead { source, next })
    }

    pub(super) fn advance(&mut self) -> anyhow::Result<Option<Entry>> {
        let next = self.source.next_entry()?;
        Ok(std::mem::replace(&mut self.next, next))
    }

    /// The entry at `path`, skipping those before it.
    pub(crate) fn find(&mut self, path: &Path) -> anyhow::Result<Option<Entry>> {
        while self.next.as_ref().is_some_and(|e| e.path.as_path() < path) {
            self.advance()?;
        }
        if self.next.as_ref().is_some_and(|e| e.path == path) {
            return self.advance();
        }
        Ok(None)
    }
}
