use super::*;
use crate::write_manifest;
use std::fs::File;

#[test]
fn verify_reports_missing_extra_and_changed_entries() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("backup");
    fs::create_dir_all(root.join("d")).unwrap();
    fs::write(root.join("d/a"), "aaaa").unwrap();
    fs::write(root.join("d/b"), "bbbb").unwrap();
    let manifest = Manifest {
        header: vec![("id".into(), "x".into())],
        entries: describe(&root).unwrap(),
    };
    write_manifest(&root, &manifest).unwrap();
    assert!(verify(&root).unwrap().problems.is_empty());
    let mtime = fs::metadata(root.join("d/a")).unwrap().modified().unwrap();
    fs::write(root.join("d/a"), "aaab").unwrap();
    File::options()
        .write(true)
        .open(root.join("d/a"))
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    fs::remove_file(root.join("d/b")).unwrap();
    fs::write(root.join("d/c"), "new").unwrap();
    let problems: Vec<String> = verify(&root)
        .unwrap()
        .problems
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert!(
        problems.contains(&"changed: d/a (content)".to_string()),
        "{problems:?}"
    );
    assert!(
        problems.contains(&"missing: d/b".to_string()),
        "{problems:?}"
    );
    assert!(problems.contains(&"extra: d/c".to_string()), "{problems:?}");
}

#[test]
fn a_backup_different_everywhere_keeps_the_first_differences_and_counts_them_all() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("backup");
    fs::create_dir_all(&root).unwrap();
    write_manifest(
        &root,
        &Manifest {
            header: vec![],
            entries: vec![],
        },
    )
    .unwrap();
    for n in 0..PROBLEMS_KEPT + 5 {
        fs::write(root.join(format!("f{n:05}")), "x").unwrap();
    }
    let verification = verify(&root).unwrap();
    assert_eq!(verification.problem_count, PROBLEMS_KEPT + 5);
    assert_eq!(verification.problems.len(), PROBLEMS_KEPT);
    assert_eq!(verification.problems[0], Problem::Extra("f00000".into()));
}

/// The entries `describe_to_file` wrote, by path.
fn described(root: &Path, reference: Option<&Path>) -> HashMap<PathBuf, Entry> {
    let temporary = tempfile::tempdir().unwrap();
    let (file, count) = describe_to_file(root, temporary.path(), reference).unwrap();
    let mut lines = crate::manifest::EntryLines::new(file).unwrap();
    let mut entries = HashMap::new();
    while let Some(entry) = lines.next_entry().unwrap() {
        entries.insert(entry.path.clone(), entry);
    }
    assert_eq!(entries.len() as u64, count);
    entries
}

#[test]
fn a_description_takes_the_checksums_of_a_reference_where_nothing_changed() {
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("tree");
    fs::create_dir_all(tree.join("d")).unwrap();
    for name in ["same", "rewritten", "touched"] {
        fs::write(tree.join("d").join(name), name).unwrap();
    }
    // The reference: a backup of the tree whose checksum for `same` is
    // not the content's, so that taking it shows it was not read again.
    let reference = work.path().join("reference");
    fs::create_dir_all(&reference).unwrap();
    let mut entries = describe(&tree).unwrap();
    let planted = "f".repeat(64);
    for entry in &mut entries {
        if entry.kind == Kind::File {
            entry.checksum = planted.clone();
        }
    }
    write_manifest(
        &reference,
        &Manifest {
            header: vec![],
            entries,
        },
    )
    .unwrap();
    // Changed since: new content with the same size and mtime would be
    // trusted, as a backup's link to its previous copy trusts it; a new
    // size or a new mtime is read again.
    fs::write(tree.join("d/rewritten"), "rewritten, longer").unwrap();
    let touched = File::options()
        .write(true)
        .open(tree.join("d/touched"))
        .unwrap();
    touched
        .set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(7))
        .unwrap();
    fs::write(tree.join("d/new"), "new").unwrap();

    let with = described(&tree, Some(&reference));
    let hash = |text: &str| blake3::hash(text.as_bytes()).to_hex().to_string();
    assert_eq!(with[Path::new("d/same")].checksum, planted);
    assert_eq!(
        with[Path::new("d/rewritten")].checksum,
        hash("rewritten, longer")
    );
    assert_eq!(with[Path::new("d/touched")].checksum, hash("touched"));
    assert_eq!(with[Path::new("d/new")].checksum, hash("new"));
    // Without a reference (or with one whose MANIFEST is unreadable), every file is read.
    fs::remove_file(reference.join(MANIFEST)).unwrap();
    for entries in [described(&tree, None), described(&tree, Some(&reference))] {
        assert_eq!(entries[Path::new("d/same")].checksum, hash("same"));
    }
}

#[test]
fn a_checked_copy_keeps_near_links_and_tells_what_differs() {
    use std::os::unix::fs::MetadataExt;
    let work = tempfile::tempdir().unwrap();
    let backup = work.path().join("backup");
    fs::create_dir_all(backup.join("data/a")).unwrap();
    fs::create_dir_all(backup.join("data/b")).unwrap();
    fs::create_dir_all(backup.join("log")).unwrap();
    fs::write(backup.join("data/a/x"), "shared").unwrap();
    fs::hard_link(backup.join("data/a/x"), backup.join("data/b/y")).unwrap();
    fs::write(backup.join("log/z"), "elsewhere too").unwrap();
    // A name outside the tree, as an earlier backup holds.
    fs::hard_link(backup.join("log/z"), work.path().join("outside")).unwrap();
    let manifest = Manifest {
        header: vec![("id".into(), "x".into())],
        entries: describe(&backup).unwrap(),
    };
    write_manifest(&backup, &manifest).unwrap();
    let copy = work.path().join("copy");
    fs::create_dir(&copy).unwrap();
    let made = copy_checked(&backup, &["data", "log"], &copy, None).unwrap();
    assert!(
        made.verification.problems.is_empty(),
        "{:?}",
        made.verification.problems
    );
    let inode = |p: &str| fs::metadata(copy.join(p)).unwrap().ino();
    assert_eq!(inode("data/a/x"), inode("data/b/y"));
    assert_eq!(
        fs::read_to_string(copy.join("log/z")).unwrap(),
        "elsewhere too"
    );
    // The last file copied changed, one listed gone, one not listed.
    fs::write(backup.join("log/z"), "elsewhere 2").unwrap();
    fs::remove_file(backup.join("data/b/y")).unwrap();
    fs::write(backup.join("stray"), "").unwrap();
    let again = work.path().join("again");
    fs::create_dir(&again).unwrap();
    let problems: Vec<String> = copy_checked(&backup, &["data", "log"], &again, None)
        .unwrap()
        .verification
        .problems
        .iter()
        .map(ToString::to_string)
        .collect();
    assert!(
        problems.iter().any(|p| p.starts_with("changed: log/z")),
        "{problems:?}"
    );
    assert!(
        problems.contains(&"missing: data/b/y".to_string()),
        "{problems:?}"
    );
    assert!(
        problems.contains(&"extra: stray".to_string()),
        "{problems:?}"
    );
}

/// The replaced data of a restore is described with the newest backup's
/// checksums; a directory of more unchanged files than a batch holds (as
/// PostgreSQL's, 100,000 files of the benchmark's million) must not be held
/// whole in memory: it was, until the flush counted such files too.
#[test]
fn describing_with_a_reference_holds_a_bounded_number_of_entries() {
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("tree");
    let files = WAITING + 2_000;
    fs::create_dir_all(tree.join("data/base")).unwrap();
    for index in 0..files {
        fs::write(tree.join(format!("data/base/{index}")), b"").unwrap();
    }
    let backup = work.path().join("backup");
    fs::create_dir(&backup).unwrap();
    let mut copier = Copier::new(&backup, vec![("data".into(), tree.join("data"))], None);
    copier.pass().unwrap();
    copier.write_manifest(&[("id".into(), "b".into())]).unwrap();
    let (_, count, most_waiting) =
        describe_to_file_watched(&tree, work.path(), Some(&backup)).unwrap();
    assert_eq!(count as usize, files + 2, "data, data/base and every file");
    assert!(
        most_waiting <= WAITING,
        "{most_waiting} entries waited at once, more than {WAITING}"
    );
}

/// A directory's listing is sorted as paths sort and takes about its
/// names' bytes and 16 more per name (a sorted list of `DirEntry`s took
/// some 140 per name).
#[test]
fn a_listing_is_sorted_and_compact() {
    let work = tempfile::tempdir().unwrap();
    let names = 20_000;
    for index in (0..names).rev() {
        fs::write(work.path().join(format!("{:08}", index * 7 % names)), b"").unwrap();
    }
    let listing = Listing::read(work.path()).unwrap();
    assert_eq!(listing.len(), names);
    let read: Vec<String> = listing
        .names()
        .map(|name| name.to_string_lossy().into_owned())
        .collect();
    let mut sorted = read.clone();
    sorted.sort();
    assert_eq!(read, sorted);
    assert!(
        listing.heap_bytes() <= names * (8 + 16) * 2,
        "{} bytes for {names} names",
        listing.heap_bytes()
    );
}
