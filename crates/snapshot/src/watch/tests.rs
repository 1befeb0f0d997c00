use super::*;

fn watched(root: &Path, scratch: &Path) -> anyhow::Result<ChangeWatch> {
    ChangeWatch::start(&[(PathBuf::from("data"), root.to_path_buf())], scratch)
}

/// Changes made by another process are named, under the volume's
/// relative name; the watcher's own writes are not.
#[test]
fn names_what_another_process_changed() {
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path().join("volume");
    std::fs::create_dir_all(root.join("a/b")).unwrap();
    std::fs::write(root.join("a/b/kept"), "1").unwrap();
    std::fs::write(root.join("a/b/edited"), "1").unwrap();
    let own = scratch.path().join("own");
    std::fs::create_dir(&own).unwrap();
    let watch = match watched(&root, &own) {
        Ok(watch) => watch,
        // Without CAP_SYS_ADMIN (`cargo test --lib` as a user) there is
        // no file system mark: the backup falls back to a full walk.
        Err(error) if !nix::unistd::geteuid().is_root() => {
            eprintln!("skipped: {error:#}");
            return;
        }
        Err(error) => panic!("{error:#}"),
    };
    std::fs::write(root.join("a/b/own"), "mine").unwrap();
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(
            "echo 2 >> a/b/edited && mkdir c && touch c/new && mv a/b/kept a/moved && chmod 0700 .",
        )
        .current_dir(&root)
        .status()
        .unwrap();
    assert!(status.success());
    let Changes::Paths(paths) = watch.finish() else {
        panic!("no record of the changes");
    };
    let paths: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    assert_eq!(
        paths,
        [
            "data",
            "data/a/b/edited",
            "data/a/b/kept",
            "data/a/moved",
            "data/c",
            "data/c/new"
        ]
    );
}

/// Runs `script` in `root` while watched; the answer.
fn changes_of(script: &str, prepare: &str) -> Option<Changes> {
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path().join("volume");
    std::fs::create_dir_all(&root).unwrap();
    let sh = |script: &str| {
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(&root)
            .status()
            .unwrap();
        assert!(status.success(), "{script}");
    };
    sh(prepare);
    let own = scratch.path().join("own");
    std::fs::create_dir(&own).unwrap();
    let watch = match watched(&root, &own) {
        Ok(watch) => watch,
        Err(error) if !nix::unistd::geteuid().is_root() => {
            eprintln!("skipped: {error:#}");
            return None;
        }
        Err(error) => panic!("{error:#}"),
    };
    sh(script);
    Some(watch.finish())
}

/// A file written through a name made and removed since: its other
/// name is named by no event, and the answer says so.
#[test]
fn a_file_written_through_a_name_gone_is_not_known() {
    let Some(changes) = changes_of(
        "ln a/x b/y && echo more >> b/y && rm b/y",
        "mkdir a b && echo 1 > a/x",
    ) else {
        return;
    };
    let Changes::Unknown(why) = changes else {
        panic!("known: {changes:?}");
    };
    assert!(why.contains("data/a/x"), "{why}");
}

/// A file still with two names, one of them never named by an event.
#[test]
fn a_file_left_with_a_second_name_is_not_known() {
    let Some(changes) = changes_of(
        "ln a/x b/y && echo more >> b/y",
        "mkdir a b && echo 1 > a/x",
    ) else {
        return;
    };
    assert!(matches!(changes, Changes::Unknown(why) if why.contains("several names (2)")));
}

/// Another program on the same file system (a compiler: writes into a
/// temporary directory, renames the file out, removes the directory)
/// keeps the record, though the directory is gone when its events are
/// read: the file's one name, outside every volume, is truly its own.
#[test]
fn another_programs_temporary_directories_outside_the_volumes_keep_the_record() {
    let Some(changes) = changes_of(
        "cd .. && mkdir out && for i in $(seq 1 300); do mkdir out/tmp$i \
         && echo $i > out/tmp$i/lib$i.rmeta && mv out/tmp$i/lib$i.rmeta out/ \
         && rmdir out/tmp$i; done",
        "",
    ) else {
        return;
    };
    assert!(matches!(changes, Changes::Paths(_)), "{changes:?}");
}

/// What services do all the time keeps the record: a file renamed into
/// place, an object linked to its name then its temporary name removed,
/// a scratch file made and removed, a file removed.
#[test]
fn renames_links_and_scratch_files_are_followed() {
    let Some(changes) = changes_of(
        "echo 1 > tmp && mv tmp final && echo 2 > tmp-obj && ln tmp-obj obj && rm tmp-obj \
         && echo 3 > scratch && rm scratch old",
        "echo 0 > old",
    ) else {
        return;
    };
    let Changes::Paths(paths) = changes else {
        panic!("not known: {changes:?}");
    };
    assert!(paths.contains(Path::new("data/final")) && paths.contains(Path::new("data/obj")));
}
