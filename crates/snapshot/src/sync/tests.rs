use super::*;
use crate::MANIFEST;
use nix::sys::stat::Mode;
use std::os::unix::fs::PermissionsExt;

/// A copy of a backup (nearly every file linked from outside the tree)
/// keeps two names of one file together when fewer than half the
/// remembered files lie between them, whenever the memory turns over.
#[test]
fn links_nearby_keeps_a_pair_within_half_its_memory_whatever_the_turnover() {
    use std::os::unix::fs::MetadataExt;
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("backup/data");
    let outside = work.path().join("earlier");
    fs::create_dir_all(&data).unwrap();
    fs::create_dir_all(&outside).unwrap();
    for n in 0..12000 {
        let name = format!("f{n:05}");
        if n == 10500 {
            fs::hard_link(data.join("f07000"), data.join(&name)).unwrap();
            continue;
        }
        fs::write(data.join(&name), n.to_string()).unwrap();
        fs::hard_link(data.join(&name), outside.join(&name)).unwrap();
    }
    let copy = work.path().join("copy");
    fs::create_dir(&copy).unwrap();
    Copier::new(&copy, vec![(PathBuf::from("data"), data.clone())], None)
        .links_nearby(10000)
        .pass()
        .unwrap();
    let inode = |name: &str| fs::metadata(copy.join("data").join(name)).unwrap().ino();
    assert_eq!(inode("f07000"), inode("f10500"));
    assert_eq!(
        fs::read_to_string(copy.join("data/f10500")).unwrap(),
        "7000"
    );
}
use crate::{Manifest, describe, verify};
use std::os::unix::fs::FileTypeExt;

fn inode(path: &Path) -> u64 {
    std::fs::symlink_metadata(path).unwrap().ino()
}

/// Copies `source` as volume `tree` of a backup in `root`, in `passes`
/// passes (the closure changes the source between them), with a MANIFEST.
fn backup(
    root: &Path,
    source: &Path,
    previous: Option<&Path>,
    between: impl FnOnce(),
) -> (SyncStats, SyncStats) {
    std::fs::create_dir(root).unwrap();
    let mut copier = Copier::new(
        root,
        vec![(PathBuf::from("tree"), source.to_path_buf())],
        previous,
    );
    let first = copier.pass().unwrap();
    between();
    let second = copier.pass().unwrap();
    copier.write_manifest(&[("id".into(), "x".into())]).unwrap();
    (first, second)
}

#[test]
fn a_backup_links_what_did_not_change_and_its_manifest_matches_the_copy() {
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("source");
    std::fs::create_dir_all(source.join("sub/empty")).unwrap();
    std::fs::write(source.join("sub/same"), "same").unwrap();
    std::fs::write(source.join("changes"), "one").unwrap();
    std::fs::write(source.join("goes"), "soon gone").unwrap();
    std::fs::create_dir_all(source.join("dir-then-file/inner")).unwrap();
    std::fs::write(source.join("dir-then-file/inner/x"), "x").unwrap();
    std::os::unix::fs::symlink("sub/same", source.join("link")).unwrap();
    std::fs::hard_link(source.join("sub/same"), source.join("alias")).unwrap();
    nix::unistd::mkfifo(&source.join("pipe"), Mode::from_bits_truncate(0o640)).unwrap();
    std::fs::set_permissions(source.join("sub"), std::fs::Permissions::from_mode(0o2770)).unwrap();

    let first = work.path().join("first");
    let (stats, _) = backup(&first, &source, None, || {});
    assert_eq!(stats.linked_files, 0);
    assert!(verify(&first).unwrap().problems.is_empty());

    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(source.join("changes"), "two").unwrap();
    let second = work.path().join("second");
    let (stats, again) = backup(&second, &source, Some(&first), || {
        // Between the passes: a file goes, a directory becomes a file,
        // a file is added.
        std::fs::remove_file(source.join("goes")).unwrap();
        std::fs::remove_dir_all(source.join("dir-then-file")).unwrap();
        std::fs::write(source.join("dir-then-file"), "now a file").unwrap();
        std::fs::write(source.join("sub/new"), "new").unwrap();
    });
    assert_eq!(stats.copied_files, 1, "{stats:?}");
    assert_eq!(again.copied_files, 2, "{again:?}");
    assert_eq!(again.removed, 1, "{again:?}");
    let copy = second.join("tree");
    assert_eq!(
        inode(&first.join("tree/sub/same")),
        inode(&copy.join("sub/same"))
    );
    assert_eq!(inode(&copy.join("alias")), inode(&copy.join("sub/same")));
    assert_ne!(
        inode(&first.join("tree/changes")),
        inode(&copy.join("changes"))
    );
    assert_eq!(
        std::fs::read_to_string(first.join("tree/changes")).unwrap(),
        "one"
    );
    assert!(!copy.join("goes").exists());
    assert_eq!(
        std::fs::read_to_string(copy.join("dir-then-file")).unwrap(),
        "now a file"
    );
    assert_eq!(
        std::fs::read_link(copy.join("link")).unwrap(),
        Path::new("sub/same")
    );
    assert!(
        std::fs::symlink_metadata(copy.join("pipe"))
            .unwrap()
            .file_type()
            .is_fifo()
    );
    assert_eq!(
        std::fs::metadata(copy.join("sub")).unwrap().mode() & 0o7777,
        0o2770
    );
    assert!(copy.join("sub/empty").is_dir());

    // The checksums computed on the way are those of the copy, and the
    // copy is its source.
    let manifest = Manifest::read(&second.join(MANIFEST)).unwrap();
    assert_eq!(manifest.entries, describe(&second).unwrap());
    let verification = verify(&second).unwrap();
    assert!(
        verification.problems.is_empty(),
        "{:?}",
        verification.problems
    );
    assert_eq!(verification.entries, manifest.entries.len());
    let in_source: Vec<Entry> = describe(&source).unwrap();
    let in_copy: Vec<Entry> = describe(&copy).unwrap();
    assert_eq!(in_copy, in_source, "the copy differs from its source");
}

#[test]
fn sync_tree_copies_into_an_empty_place_only() {
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("source");
    std::fs::create_dir_all(source.join("a/b")).unwrap();
    std::fs::write(source.join("a/b/c"), "c").unwrap();
    let copy = work.path().join("copy");
    sync_tree(&source, &copy, None).unwrap();
    assert_eq!(describe(&copy).unwrap(), describe(&source).unwrap());
    let error = sync_tree(&source, &copy, None).unwrap_err();
    assert!(error.to_string().contains("is not empty"), "{error:#}");
}

#[test]
fn a_pass_refuses_to_eat_the_last_free_bytes() {
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("source");
    std::fs::create_dir_all(&source).unwrap();
    std::fs::write(source.join("a"), "a").unwrap();
    let root = work.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let mut copier =
        Copier::new(&root, vec![(PathBuf::from("t"), source)], None).keep_free(u64::MAX / 2);
    let error = copier.pass().unwrap_err();
    assert!(
        error.downcast_ref::<NotEnoughSpace>().is_some(),
        "{error:#}"
    );
}
