//! The person's files: listing them, comparing two copies, and making the
//! dated copy that keeps a folder's state aside before anything replaces it.

use std::path::{Path, PathBuf};

use anyhow::Context;
use time::OffsetDateTime;

use super::beneath::{Kind, Problem, Root};
use girofle_base::error::Result;

/// Every file (and symbolic link) under `root`, as sorted relative paths
/// with `/` between components. Directories are not listed, and a link is
/// never walked into.
pub fn files(root: &Path) -> Result<Vec<String>> {
    match Root::open(root) {
        Err(Problem::Io(_, error)) if error.kind() == std::io::ErrorKind::NotFound => Ok(vec![]),
        opened => Ok(opened?.files()?),
    }
}

/// Whether the file `relative` is the same in both trees (same bytes, or the
/// same link target); false when either lacks it. Neither tree is read
/// through a link.
pub fn same(a: &Root, b: &Root, relative: &str) -> Result<bool, Problem> {
    let (Some(meta_a), Some(meta_b)) = (a.meta(relative)?, b.meta(relative)?) else {
        return Ok(false);
    };
    match (meta_a.kind, meta_b.kind) {
        (Kind::Link, Kind::Link) => Ok(a.read_link(relative)? == b.read_link(relative)?),
        (Kind::File, Kind::File) => {
            if meta_a.len != meta_b.len {
                return Ok(false);
            }
            Ok(a.read(relative)? == b.read(relative)?)
        }
        _ => Ok(false),
    }
}

/// Copies the file `relative` from tree `from` into tree `to` (at
/// `to/target`), making directories as needed, keeping modes, times and
/// links; refused when a parent on either side is a link.
pub fn copy_file(from: &Path, relative: &str, to: &Path, target: &str) -> Result<()> {
    Root::open(to)?.copy_from(&Root::open(from)?, relative, target)?;
    Ok(())
}

/// The bytes of the plain file `relative` under `root`, for showing it;
/// refused when it, or a parent of it, is a link.
pub fn read(root: &Path, relative: &str) -> Result<Vec<u8>> {
    Ok(Root::open(root)?.read(relative)?)
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
    .with_context(|| crate::tr!("cannot-run-cp"))?;
    if !output.status.success() {
        return Err(anyhow::anyhow!(crate::tr!(
            "cannot-copy",
            from = source.display().to_string(),
            to = destination.display().to_string(),
            why = String::from_utf8_lossy(&output.stderr).trim().to_string()
        ))
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
    let base = crate::tr!("copy-name", name = name, stamp = super::words::stamp(at));
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
    std::fs::rename(dir, &target).with_context(|| {
        crate::tr!(
            "cannot-move",
            dir = dir.display().to_string(),
            to = target.display().to_string()
        )
    })?;
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
        Some(dot) if dot > 0 => format!(
            "{dir}{}{}",
            crate::tr!("from-machine", name = &file[..dot], machine = machine),
            &file[dot..]
        ),
        _ => format!(
            "{dir}{}",
            crate::tr!("from-machine", name = file, machine = machine)
        ),
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
        let (ra, rb) = (Root::open(a.path()).unwrap(), Root::open(b.path()).unwrap());
        assert!(!same(&ra, &rb, "top.txt").unwrap());
        copy_file(a.path(), "sub/deeper/x.txt", b.path(), "sub/deeper/x.txt").unwrap();
        copy_file(a.path(), "link", b.path(), "link").unwrap();
        assert!(same(&ra, &rb, "sub/deeper/x.txt").unwrap());
        assert!(same(&ra, &rb, "link").unwrap());
        std::fs::write(b.path().join("top.txt"), "tip").unwrap();
        assert!(!same(&ra, &rb, "top.txt").unwrap());
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
