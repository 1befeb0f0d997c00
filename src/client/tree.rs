//! The person's files: listing them, comparing two copies, and making the
//! dated copy that keeps a folder's state aside before anything replaces it.

use std::path::{Path, PathBuf};

use anyhow::Context;
use time::OffsetDateTime;

use crate::error::Result;

/// Every file (and symbolic link) under `root`, as sorted relative paths
/// with `/` between components. Directories are not listed.
pub fn files(root: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    walk(root, root, &mut out)?;
    out.sort();
    Ok(out)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => {
            return Err(anyhow::Error::from(error)
                .context(format!("cannot read {}", dir.display()))
                .into());
        }
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
        let path = entry.path();
        let kind = entry
            .file_type()
            .with_context(|| format!("cannot read {}", path.display()))?;
        if kind.is_dir() {
            walk(root, &path, out)?;
        } else {
            let relative = path.strip_prefix(root).expect("under the root");
            out.push(relative.to_string_lossy().into_owned());
        }
    }
    Ok(())
}

/// Whether the file `relative` is the same in both trees (same bytes, or the
/// same link target); false when either lacks it.
pub fn same(a: &Path, b: &Path, relative: &str) -> Result<bool> {
    let (a, b) = (a.join(relative), b.join(relative));
    let (Ok(meta_a), Ok(meta_b)) = (a.symlink_metadata(), b.symlink_metadata()) else {
        return Ok(false);
    };
    match (
        meta_a.file_type().is_symlink(),
        meta_b.file_type().is_symlink(),
    ) {
        (true, true) => Ok(std::fs::read_link(&a)? == std::fs::read_link(&b)?),
        (false, false) => {
            if meta_a.len() != meta_b.len() {
                return Ok(false);
            }
            let read =
                |p: &Path| std::fs::read(p).with_context(|| format!("cannot read {}", p.display()));
            Ok(read(&a)? == read(&b)?)
        }
        _ => Ok(false),
    }
}

/// Copies the file `relative` from tree `from` into tree `to` (at
/// `to/target`), making directories as needed, keeping modes, times and links.
pub fn copy_file(from: &Path, relative: &str, to: &Path, target: &str) -> Result<()> {
    let source = from.join(relative);
    let destination = to.join(target);
    if let Some(parent) = destination.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    if destination.symlink_metadata().is_ok() {
        std::fs::remove_file(&destination)
            .with_context(|| format!("cannot replace {}", destination.display()))?;
    }
    run_cp(&source, &destination)
}

fn run_cp(source: &Path, destination: &Path) -> Result<()> {
    let output = duct::cmd(
        "cp",
        [
            std::ffi::OsStr::new("-a"),
            std::ffi::OsStr::new("--"),
            source.as_os_str(),
            destination.as_os_str(),
        ],
    )
    .stdout_null()
    .stderr_capture()
    .unchecked()
    .run()
    .context("cannot run cp")?;
    if !output.status.success() {
        return Err(anyhow::anyhow!(
            "cannot copy {} to {}: {}",
            source.display(),
            destination.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        )
        .into());
    }
    Ok(())
}

/// A free name beside `dir` for a dated copy: `<dir> (copy <stamp>)`, with a
/// number after it when that is taken.
pub fn aside_name(dir: &Path, at: OffsetDateTime) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "folder".into());
    let parent = dir.parent().unwrap_or(Path::new("/"));
    let base = format!("{name} (copy {})", super::words::stamp(at));
    let mut candidate = parent.join(&base);
    let mut n = 2;
    while candidate.symlink_metadata().is_ok() {
        candidate = parent.join(format!("{base} {n}"));
        n += 1;
    }
    candidate
}

/// Copies the whole folder beside itself, dated, and returns the copy's path.
pub fn copy_aside(dir: &Path) -> Result<PathBuf> {
    let target = aside_name(dir, OffsetDateTime::now_utc());
    run_cp(dir, &target)?;
    Ok(target)
}

/// Moves the whole folder beside itself, dated, and returns its new path.
pub fn move_aside(dir: &Path) -> Result<PathBuf> {
    let target = aside_name(dir, OffsetDateTime::now_utc());
    std::fs::rename(dir, &target)
        .with_context(|| format!("cannot move {} to {}", dir.display(), target.display()))?;
    Ok(target)
}

/// `name (from laptop-1).ext` for `name.ext`: where "keep both" puts the
/// person's copy, beside the server's.
pub fn both_name(relative: &str, machine: &str) -> String {
    let (dir, file) = match relative.rfind('/') {
        Some(i) => (&relative[..=i], &relative[i + 1..]),
        None => ("", relative),
    };
    match file.rfind('.') {
        Some(dot) if dot > 0 => format!("{dir}{} (from {machine}){}", &file[..dot], &file[dot..]),
        _ => format!("{dir}{file} (from {machine})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_compares_and_copies() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(a.path().join("sub/deeper")).unwrap();
        std::fs::write(a.path().join("sub/deeper/x.txt"), "x").unwrap();
        std::fs::write(a.path().join("top.txt"), "top").unwrap();
        std::os::unix::fs::symlink("top.txt", a.path().join("link")).unwrap();
        assert_eq!(
            files(a.path()).unwrap(),
            vec!["link", "sub/deeper/x.txt", "top.txt"]
        );
        assert!(!same(a.path(), b.path(), "top.txt").unwrap());
        copy_file(a.path(), "sub/deeper/x.txt", b.path(), "sub/deeper/x.txt").unwrap();
        copy_file(a.path(), "link", b.path(), "link").unwrap();
        assert!(same(a.path(), b.path(), "sub/deeper/x.txt").unwrap());
        assert!(same(a.path(), b.path(), "link").unwrap());
        std::fs::write(b.path().join("top.txt"), "tip").unwrap();
        assert!(!same(a.path(), b.path(), "top.txt").unwrap());
    }

    #[test]
    fn copies_aside_under_a_free_name() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("Report");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("a.txt"), "a").unwrap();
        let first = copy_aside(&dir).unwrap();
        let second = copy_aside(&dir).unwrap();
        assert_ne!(first, second);
        assert!(
            first
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("Report (copy ")
        );
        assert_eq!(std::fs::read(first.join("a.txt")).unwrap(), b"a");
        assert_eq!(std::fs::read(dir.join("a.txt")).unwrap(), b"a");
    }

    #[test]
    fn both_names() {
        assert_eq!(
            both_name("a/plan.odt", "laptop-1"),
            "a/plan (from laptop-1).odt"
        );
        assert_eq!(both_name("notes", "pc"), "notes (from pc)");
        assert_eq!(both_name(".hidden", "pc"), ".hidden (from pc)");
    }
}
