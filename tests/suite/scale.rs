//! girofle-backup at a scale the CI machine affords (50,000 files): an
//! incremental stop backup stats each source file once over both passes
//! (the second, GitLab stopped, visits only what changed), reads no
//! unchanged file, walks each source directory once and never the previous
//! backup's tree. Counted on the real binary with `strace -f -y` (paths of
//! descriptors).

use crate::common;

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Scenario, fresh_ip};

const FILES: usize = 50_000;
const PER_DIRECTORY: usize = 200;

/// Many small files (200 B to 1 KiB) in two levels of directories, as
/// GitLab's hashed storage keeps them; returns the files.
fn generate(root: &Path) -> Vec<PathBuf> {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut files = Vec::with_capacity(FILES);
    let content = vec![b'x'; 1024];
    for index in 0..FILES {
        let directory = root.join(format!(
            "{:02x}/{:04}",
            index / PER_DIRECTORY % 16,
            index / PER_DIRECTORY
        ));
        if index % PER_DIRECTORY == 0 {
            fs::create_dir_all(&directory).unwrap();
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let path = directory.join(format!("object-{index:06}"));
        let size = 200 + (seed % 824) as usize;
        fs::write(&path, &content[..size]).unwrap();
        files.push(path);
    }
    files
}

/// The path a traced call names: for a call on a descriptor (`read`,
/// `getdents64`, `fstat`), the descriptor's path that strace printed (`-y`);
/// for a call with a path (`openat`, `statx`, `newfstatat`), the path,
/// resolved against the directory descriptor's.
fn named_path(call: &str, line: &str) -> Option<PathBuf> {
    let open = line.find(&format!("{call}("))? + call.len() + 1;
    let arguments = &line[open..];
    // First argument: a descriptor `N</path>` or `AT_FDCWD</path>`, or a path.
    let (descriptor, rest) = if arguments.starts_with('"') {
        (None, arguments)
    } else {
        let start = arguments.find('<')?;
        let end = arguments[start..]
            .find(">,")
            .or_else(|| arguments[start..].find(">)"))?
            + start;
        (
            Some(PathBuf::from(&arguments[start + 1..end])),
            &arguments[end + 1..],
        )
    };
    if matches!(call, "read" | "getdents64" | "fstat") {
        return descriptor;
    }
    let name = rest
        .trim_start_matches([',', ' '])
        .strip_prefix('"')
        .and_then(|after| after.split_once('"'))
        .map(|(name, _)| name)
        .unwrap_or("");
    if name.starts_with('/') {
        return Some(PathBuf::from(name));
    }
    let descriptor = descriptor?;
    Some(if name.is_empty() {
        descriptor
    } else {
        descriptor.join(name)
    })
}

/// The system call of an strace line (`[pid N] ` left out).
fn call(line: &str) -> &str {
    let line = match line.strip_prefix("[pid") {
        Some(rest) => rest.split_once("] ").map(|(_, l)| l).unwrap_or(rest),
        None => line.split_once(' ').map(|(_, l)| l).unwrap_or(line),
    };
    line.split('(').next().unwrap_or("").trim()
}

#[test]
fn an_incremental_stop_backup_of_50000_files_stats_each_once_and_reads_only_what_changed() {
    let world = Scenario::new();
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    let tree = world
        .instance_dir(1)
        .join("mapping-volumes/data/scale-objects");
    let files = generate(&tree);
    let first = world.backup(1, &["--consistency", "live"]);

    // 1% of the files change (another size, a later mtime).
    std::thread::sleep(Duration::from_millis(20));
    let touched: HashSet<PathBuf> = files
        .iter()
        .step_by(100)
        .map(|path| {
            fs::write(path, b"changed after the first backup").unwrap();
            path.clone()
        })
        .collect();

    let trace = tempfile::NamedTempFile::new().unwrap();
    let run = world
        .command("strace")
        .args(["-f", "-y", "-qq", "-o"])
        .arg(trace.path())
        .args([
            "-e",
            "trace=stat,lstat,fstat,newfstatat,statx,openat,read,getdents64",
            "-e",
            "signal=none",
        ])
        .arg(common::binary_path("girofle-backup"))
        .args(["1", "--consistency", "stop"])
        .output()
        .expect("strace runs (Debian package strace)");
    let run = common::Run::from(run).expect_code(0);
    let second = run.stdout.trim().to_string();
    assert_ne!(second, first);
    let manifest = fs::read_to_string(
        world
            .instance_dir(1)
            .join("bckups")
            .join(&second)
            .join("MANIFEST"),
    )
    .unwrap();
    let walked = common::manifest_value(&manifest, "second_pass_walked").unwrap();
    assert!(
        walked.starts_with("changes only"),
        "the second pass walked {walked}"
    );

    let mut stats: HashMap<PathBuf, usize> = HashMap::new();
    let mut opened: HashSet<PathBuf> = HashSet::new();
    let mut read: HashSet<PathBuf> = HashSet::new();
    let mut listed: HashMap<PathBuf, usize> = HashMap::new();
    let previous = world.instance_dir(1).join("bckups").join(&first);
    let mut previous_stats = 0;
    for line in fs::read_to_string(trace.path()).unwrap().lines() {
        let name = call(line);
        let Some(path) = named_path(name, line) else {
            continue;
        };
        if path.starts_with(&previous) && name.contains("stat") {
            previous_stats += 1;
        }
        if !path.starts_with(&tree) {
            continue;
        }
        match name {
            "openat" if line.contains("O_DIRECTORY") => {
                *listed.entry(path).or_default() += 1;
            }
            "openat" => {
                opened.insert(path);
            }
            "read" => {
                read.insert(path);
            }
            "getdents64" => {}
            _ => *stats.entry(path).or_default() += 1,
        }
    }

    let mut stated_more_than_once: Vec<_> = files
        .iter()
        .filter(|f| stats.get(*f).copied().unwrap_or(0) != 1)
        .map(|f| (f.clone(), stats.get(f).copied().unwrap_or(0)))
        .collect();
    stated_more_than_once.sort();
    assert!(
        stated_more_than_once.is_empty(),
        "{} of {} source files not stated exactly once, e.g. {:?}",
        stated_more_than_once.len(),
        files.len(),
        &stated_more_than_once[..stated_more_than_once.len().min(5)]
    );
    let read_unchanged: Vec<_> = opened
        .iter()
        .chain(read.iter())
        .filter(|path| !touched.contains(*path) && path.is_file())
        .collect();
    assert!(
        read_unchanged.is_empty(),
        "{} unchanged files were opened or read, e.g. {:?}",
        read_unchanged.len(),
        &read_unchanged[..read_unchanged.len().min(5)]
    );
    for path in &touched {
        assert!(
            read.contains(path),
            "{} changed and was not read",
            path.display()
        );
    }
    let listed_twice: Vec<_> = listed.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        listed_twice.is_empty(),
        "source directories walked more than once: {listed_twice:?}"
    );
    assert!(!listed.is_empty(), "no directory walk seen in the trace");
    assert_eq!(
        previous_stats, 0,
        "the previous backup's tree was stat'ed; its MANIFEST should answer"
    );

    // And the backup is whole: unchanged files are the previous backup's,
    // every file is checked against the MANIFEST.
    let relative = files[1]
        .strip_prefix(world.instance_dir(1).join("mapping-volumes"))
        .unwrap();
    let inode = |id: &str| {
        use std::os::unix::fs::MetadataExt;
        fs::metadata(world.instance_dir(1).join("bckups").join(id).join(relative))
            .unwrap()
            .ino()
    };
    assert_eq!(inode(&first), inode(&second));
    world
        .run("girofle-backup", &["--verify", "1"])
        .expect_code(0);
}
