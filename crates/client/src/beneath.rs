//! The one place where the client touches files under a saved folder (or
//! under the copy of it kept aside): every read, write, rename and removal
//! walks from the folder down, one component at a time, with `openat` and
//! `O_NOFOLLOW`, so that a symbolic link in any parent component is refused
//! instead of followed. A link inside the folder stays a link (it is copied
//! and compared as a link), never a way out of the folder.
//!
//! Why: the server's versions come from collaborators. One of them can commit
//! `scripts` as a link to `~/.config/autostart`; writing the person's
//! `scripts/evil.desktop` back through it would put a file outside the folder
//! that runs at the next login.

use std::ffi::OsStr;
use std::fmt;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, Timespec, Timestamps};
use rustix::io::Errno;

use crate::tr;

/// Why a path under the folder was not used.
#[derive(Debug)]
pub enum Problem {
    /// A parent component (`at`, relative to the folder) is a symbolic link.
    Link {
        /// The folder (or the copy kept aside).
        root: PathBuf,
        /// The component that is a link, relative to `root`.
        at: String,
        /// Where it points.
        to: PathBuf,
    },
    /// The name is not one relative path of plain components.
    Name(String),
    /// The file is neither a plain file nor a link (a pipe, a device…).
    Special(PathBuf),
    /// The system refused.
    Io(PathBuf, std::io::Error),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Link { root, at, to } => f.write_str(&tr!(
                "problem-link",
                path = root.join(at).display().to_string(),
                to = to.display().to_string()
            )),
            Problem::Name(name) => f.write_str(&tr!("problem-name", name = format!("{name:?}"))),
            Problem::Special(path) => {
                f.write_str(&tr!("problem-special", path = path.display().to_string()))
            }
            Problem::Io(path, error) => write!(f, "{}: {error}", path.display()),
        }
    }
}

impl std::error::Error for Problem {}

impl From<Problem> for girofle_base::error::Error {
    fn from(problem: Problem) -> Self {
        girofle_base::error::Error::failed(problem.to_string())
    }
}

/// What a name under the folder is, without following it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A plain file.
    File,
    /// A symbolic link.
    Link,
    /// A directory.
    Dir,
    /// Anything else.
    Other,
}

/// A name's kind, size and time of last change.
#[derive(Debug, Clone, Copy)]
pub struct Meta {
    /// What it is.
    pub kind: Kind,
    /// Its size in bytes.
    pub len: u64,
    /// When its content last changed.
    pub modified: std::time::SystemTime,
}

/// A folder, opened once; every path is resolved beneath it.
pub struct Root {
    fd: OwnedFd,
    path: PathBuf,
}

type Outcome<T> = Result<T, Problem>;

/// The components of `relative`, each a plain name (no `..`, `.`, empty
/// part or leading `/`).
fn components(relative: &str) -> Outcome<Vec<&str>> {
    let parts: Vec<&str> = relative.split('/').collect();
    if relative.is_empty()
        || parts
            .iter()
            .any(|p| p.is_empty() || *p == "." || *p == ".." || p.contains('\0'))
    {
        return Err(Problem::Name(relative.to_string()));
    }
    Ok(parts)
}

fn kind_of(mode: u32) -> Kind {
    match FileType::from_raw_mode(mode) {
        FileType::RegularFile => Kind::File,
        FileType::Symlink => Kind::Link,
        FileType::Directory => Kind::Dir,
        _ => Kind::Other,
    }
}

fn meta_of(stat: &rustix::fs::Stat) -> Meta {
    let modified = std::time::UNIX_EPOCH
        + std::time::Duration::new(
            u64::try_from(stat.st_mtime).unwrap_or(0),
            u32::try_from(stat.st_mtime_nsec).unwrap_or(0),
        );
    Meta {
        kind: kind_of(stat.st_mode),
        len: u64::try_from(stat.st_size).unwrap_or(0),
        modified,
    }
}

/// Opens the directory `name` in `dir` without following a link.
fn open_dir(dir: impl AsFd, name: &str) -> Result<OwnedFd, Errno> {
    rustix::fs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

impl Root {
    /// Opens the folder `path` itself (the folder's own path is the person's
    /// choice and may go through links; what is under it may not).
    pub fn open(path: &Path) -> Outcome<Root> {
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Problem::Io(path.to_path_buf(), e.into()))?;
        Ok(Root {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// The folder's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, relative: &str, error: impl Into<std::io::Error>) -> Problem {
        Problem::Io(self.path.join(relative), error.into())
    }

    /// The problem with `parts[..=i]` when it could not be opened as a
    /// directory: a link is named as such.
    fn refusal(&self, dir: impl AsFd, parts: &[&str], i: usize, error: Errno) -> Problem {
        let at = parts[..=i].join("/");
        if let Ok(stat) = rustix::fs::statat(&dir, parts[i], AtFlags::SYMLINK_NOFOLLOW)
            && kind_of(stat.st_mode) == Kind::Link
        {
            let to = rustix::fs::readlinkat(&dir, parts[i], Vec::new())
                .map(|t| PathBuf::from(OsStr::from_bytes(t.as_bytes())))
                .unwrap_or_default();
            return Problem::Link {
                root: self.path.clone(),
                at,
                to,
            };
        }
        self.io(&at, error)
    }

    /// The directory holding `relative`, and its last component; `None` when
    /// a parent directory is missing (or is a plain file). With `make`, the
    /// missing parents are made. A parent that is a link is refused.
    fn parent<'a>(&self, relative: &'a str, make: bool) -> Outcome<Option<(OwnedFd, &'a str)>> {
        let parts = components(relative)?;
        let mut dir = rustix::io::dup(&self.fd).map_err(|e| self.io("", e))?;
        for i in 0..parts.len() - 1 {
            let next = match open_dir(&dir, parts[i]) {
                Ok(next) => next,
                Err(Errno::NOENT) if make => {
                    match rustix::fs::mkdirat(&dir, parts[i], Mode::from_raw_mode(0o777)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => return Err(self.io(&parts[..=i].join("/"), e)),
                    }
                    open_dir(&dir, parts[i]).map_err(|e| self.refusal(&dir, &parts, i, e))?
                }
                Err(Errno::NOENT) => return Ok(None),
                Err(e) => {
                    let problem = self.refusal(&dir, &parts, i, e);
                    if !make
                        && let Problem::Io(_, error) = &problem
                        && error.kind() == std::io::ErrorKind::NotADirectory
                    {
                        return Ok(None);
                    }
                    return Err(problem);
                }
            };
            dir = next;
        }
        Ok(Some((dir, parts[parts.len() - 1])))
    }

    /// What `relative` is, not following it; `None` when it is not there.
    pub fn meta(&self, relative: &str) -> Outcome<Option<Meta>> {
        let Some((dir, name)) = self.parent(relative, false)? else {
            return Ok(None);
        };
        match rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => Ok(Some(meta_of(&stat))),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(self.io(relative, e)),
        }
    }

    /// The bytes of the plain file `relative` (a link is not followed: it is
    /// refused).
    pub fn read(&self, relative: &str) -> Outcome<Vec<u8>> {
        let (dir, name) = self
            .parent(relative, false)?
            .ok_or_else(|| self.io(relative, Errno::NOENT))?;
        let fd = rustix::fs::openat(
            &dir,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
            Mode::empty(),
        )
        .map_err(|e| {
            if e == Errno::LOOP {
                let parts = components(relative).unwrap_or_default();
                self.refusal(&dir, &parts, parts.len() - 1, e)
            } else {
                self.io(relative, e)
            }
        })?;
        let stat = rustix::fs::fstat(&fd).map_err(|e| self.io(relative, e))?;
        if kind_of(stat.st_mode) != Kind::File {
            return Err(Problem::Special(self.path.join(relative)));
        }
        let mut bytes = Vec::new();
        std::fs::File::from(fd)
            .read_to_end(&mut bytes)
            .map_err(|e| self.io(relative, e))?;
        Ok(bytes)
    }

    /// Where the link `relative` points.
    pub fn read_link(&self, relative: &str) -> Outcome<PathBuf> {
        let (dir, name) = self
            .parent(relative, false)?
            .ok_or_else(|| self.io(relative, Errno::NOENT))?;
        let target =
            rustix::fs::readlinkat(&dir, name, Vec::new()).map_err(|e| self.io(relative, e))?;
        Ok(PathBuf::from(OsStr::from_bytes(target.as_bytes())))
    }

    /// Every file and link under the folder, as sorted relative paths with
    /// `/` between components; directories are walked (never through a
    /// link), not listed.
    pub fn files(&self) -> Outcome<Vec<String>> {
        let mut out = Vec::new();
        let top = rustix::io::dup(&self.fd).map_err(|e| self.io("", e))?;
        self.walk(top, "", &mut out)?;
        out.sort();
        Ok(out)
    }

    fn walk(&self, dir: OwnedFd, prefix: &str, out: &mut Vec<String>) -> Outcome<()> {
        let entries = rustix::fs::Dir::read_from(&dir).map_err(|e| self.io(prefix, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| self.io(prefix, e))?;
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            let name = String::from_utf8_lossy(name).into_owned();
            let relative = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            match open_dir(&dir, &name) {
                Ok(sub) => self.walk(sub, &relative, out)?,
                // Not a directory (a link is one of these): a file.
                Err(Errno::NOTDIR | Errno::LOOP) => out.push(relative),
                Err(Errno::NOENT) => {}
                Err(e) => return Err(self.io(&relative, e)),
            }
        }
        Ok(())
    }

    /// Copies the file (or link) `relative` of `from` to `target` here,
    /// making the directories it needs, keeping its mode and times; a link is
    /// copied as the same link. It replaces `target` in one step (a file
    /// written beside it, then renamed over it).
    pub fn copy_from(&self, from: &Root, relative: &str, target: &str) -> Outcome<()> {
        let (source_dir, source_name) = from
            .parent(relative, false)?
            .ok_or_else(|| from.io(relative, Errno::NOENT))?;
        let stat = rustix::fs::statat(&source_dir, source_name, AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| from.io(relative, e))?;
        let kind = kind_of(stat.st_mode);
        if kind != Kind::File && kind != Kind::Link {
            return Err(Problem::Special(from.path.join(relative)));
        }
        let (dir, name) = self.parent(target, true)?.expect("the parents are made");
        // A short name, whatever the length of `name`.
        let temporary = format!(".girofle-copy-{}", std::process::id());
        let _ = rustix::fs::unlinkat(&dir, temporary.as_str(), AtFlags::empty());
        if kind == Kind::Link {
            let to = rustix::fs::readlinkat(&source_dir, source_name, Vec::new())
                .map_err(|e| from.io(relative, e))?;
            rustix::fs::symlinkat(to.as_c_str(), &dir, temporary.as_str())
                .map_err(|e| self.io(target, e))?;
        } else {
            let source = rustix::fs::openat(
                &source_dir,
                source_name,
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
                Mode::empty(),
            )
            .map_err(|e| from.io(relative, e))?;
            let stat = rustix::fs::fstat(&source).map_err(|e| from.io(relative, e))?;
            if kind_of(stat.st_mode) != Kind::File {
                return Err(Problem::Special(from.path.join(relative)));
            }
            let written = rustix::fs::openat(
                &dir,
                temporary.as_str(),
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            )
            .map_err(|e| self.io(target, e))?;
            let copied = (|| -> std::io::Result<()> {
                let mut output = std::fs::File::from(written);
                std::io::copy(&mut std::fs::File::from(source), &mut output)?;
                output.flush()?;
                // The permission bits only: no set-user-ID from a copy.
                rustix::fs::fchmod(&output, Mode::from_raw_mode(stat.st_mode & 0o777))?;
                rustix::fs::futimens(
                    &output,
                    &Timestamps {
                        last_access: Timespec {
                            tv_sec: stat.st_atime,
                            tv_nsec: stat.st_atime_nsec as _,
                        },
                        last_modification: Timespec {
                            tv_sec: stat.st_mtime,
                            tv_nsec: stat.st_mtime_nsec as _,
                        },
                    },
                )?;
                Ok(())
            })();
            if let Err(error) = copied {
                let _ = rustix::fs::unlinkat(&dir, temporary.as_str(), AtFlags::empty());
                return Err(self.io(target, error));
            }
        }
        rustix::fs::renameat(&dir, temporary.as_str(), &dir, name).map_err(|e| {
            let _ = rustix::fs::unlinkat(&dir, temporary.as_str(), AtFlags::empty());
            self.io(target, e)
        })
    }
}

/// Why git would refuse to write the path `relative` of a version (and so
/// the client too): `None` when it may be written. The same rules as git's
/// `verify_path` with `core.protectNTFS` and `core.protectHFS`: no `.git`
/// component in any case, nor with dots or spaces after it, nor its short
/// name `git~1`; no `.` or `..`; no empty component, no absolute path. A
/// backslash is refused by git on Windows only, so it is written here: the
/// page never lets a name reach a header unencoded.
pub fn refused_name(relative: &str) -> Option<String> {
    if relative.starts_with('/') {
        return Some(tr!("name-outside"));
    }
    if relative.contains('\0') {
        return Some(tr!("name-bad-character"));
    }
    for part in relative.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return Some(tr!("name-outside"));
        }
        // HFS+ ignores some invisible characters in names.
        let visible: String = part
            .chars()
            .filter(|c| {
                !matches!(
                    c,
                    '\u{200c}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{206a}'..='\u{206f}' | '\u{feff}'
                )
            })
            .collect();
        let lower = visible.to_ascii_lowercase();
        let trimmed = lower.trim_end_matches(['.', ' ']);
        let stream = trimmed.split(':').next().unwrap_or("");
        if trimmed == ".git" || stream == ".git" || lower == "git~1" {
            return Some(tr!("name-reserved"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_through_a_link() {
        let folder = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let aside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "outside").unwrap();
        std::os::unix::fs::symlink(outside.path(), folder.path().join("scripts")).unwrap();
        std::os::unix::fs::symlink("../etc", folder.path().join("inner")).unwrap();
        std::fs::create_dir(aside.path().join("scripts")).unwrap();
        std::fs::write(aside.path().join("scripts/evil.desktop"), "run me").unwrap();
        let root = Root::open(folder.path()).unwrap();
        let from = Root::open(aside.path()).unwrap();

        assert!(matches!(
            root.meta("scripts/secret"),
            Err(Problem::Link { ref at, .. }) if at == "scripts"
        ));
        assert!(matches!(
            root.read("scripts/secret"),
            Err(Problem::Link { .. })
        ));
        assert!(matches!(root.read("scripts"), Err(Problem::Link { .. })));
        assert!(matches!(
            root.copy_from(&from, "scripts/evil.desktop", "scripts/evil.desktop"),
            Err(Problem::Link { .. })
        ));
        assert!(!outside.path().join("evil.desktop").exists());
        assert_eq!(root.files().unwrap(), vec!["inner", "scripts"]);
        assert_eq!(root.read_link("inner").unwrap(), Path::new("../etc"));
        assert!(matches!(root.meta("../x"), Err(Problem::Name(_))));
        assert!(root.meta("missing/deeper").unwrap().is_none());

        // A link is copied as a link, and a file beside it as a file.
        from.copy_from(&root, "inner", "copied-link").unwrap();
        assert_eq!(
            std::fs::read_link(aside.path().join("copied-link")).unwrap(),
            Path::new("../etc")
        );
        root.copy_from(&from, "scripts/evil.desktop", "new/deeper/x")
            .unwrap();
        assert_eq!(root.read("new/deeper/x").unwrap(), b"run me");
    }

    #[test]
    fn names_git_refuses() {
        for name in [
            ".git/hooks/post-checkout",
            "a/.GIT/config",
            ".git./x",
            ".git /x",
            "GIT~1/config",
            "../up",
            "a//b",
            "/etc/passwd",
            "a/./b",
            ".g\u{200c}it/x",
        ] {
            assert!(refused_name(name).is_some(), "{name}");
        }
        for name in [
            "a.git",
            ".gitignore",
            "git/x",
            ".github/workflows/x",
            "x/.gitx",
        ] {
            assert!(refused_name(name).is_none(), "{name}");
        }
    }
}
