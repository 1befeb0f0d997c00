//! A directory's names, sorted, held compactly: a walk in path order must
//! sort each directory's names before it visits them, and a directory may
//! hold a tenth of a whole instance (PostgreSQL keeps a file per relation
//! in one directory: 100,000 of the benchmark's 1,000,000 files).

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The names in a directory, sorted as paths sort, so that a walk visits a
/// tree in the order of its MANIFEST (a directory, then what it holds).
///
/// The names are kept end to end in one buffer, each located by its start
/// and length: about the name's own bytes and 16 more per entry. A list of
/// `DirEntry`s sorted by a cached name (what this replaces) took some 140
/// bytes per entry in several allocations (an open directory's handle, the
/// name twice), 14 MB for 100,000 files of one directory.
pub(crate) struct Listing {
    names: Vec<u8>,
    spans: Vec<(usize, usize)>,
}

impl Listing {
    /// Reads the names in `directory` and sorts them.
    pub(crate) fn read(directory: &Path) -> io::Result<Listing> {
        let mut listing = Listing {
            names: Vec::new(),
            spans: Vec::new(),
        };
        for entry in fs_err::read_dir(directory)? {
            let name = entry?.file_name();
            let bytes = name.as_bytes();
            listing.spans.push((listing.names.len(), bytes.len()));
            listing.names.extend_from_slice(bytes);
        }
        let Listing { names, spans } = &mut listing;
        spans.sort_unstable_by(|a, b| names[a.0..a.0 + a.1].cmp(&names[b.0..b.0 + b.1]));
        Ok(listing)
    }

    /// The names, in order.
    pub(crate) fn names(&self) -> impl Iterator<Item = &OsStr> {
        self.spans
            .iter()
            .map(|&(start, length)| OsStr::from_bytes(&self.names[start..start + length]))
    }

    /// How many names.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    /// The bytes this listing holds on the heap.
    #[cfg(test)]
    pub(crate) fn heap_bytes(&self) -> usize {
        self.names.capacity() + self.spans.capacity() * std::mem::size_of::<(usize, usize)>()
    }
}
