//! Issue 10, §3: a restore cannot destroy what it replaces. Each test tries
//! to break one promise against the real engine.

use crate::common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{
    Scenario, docker, fresh_ip, make_repository, push_commit, remote_head, status, wait_healthy,
};

struct Instance {
    world: Scenario,
    url: String,
    container: String,
    work: tempfile::TempDir,
}

fn instance(world: Scenario, extra: &[&str]) -> Instance {
    let ip = fresh_ip();
    let mut args = vec!["--ip", ip.as_str(), "--hostname", ip.as_str()];
    args.extend_from_slice(extra);
    let url = world.commission(&args);
    let container = format!("{}-gitlab-1", world.prefix);
    let work = tempfile::tempdir().unwrap();
    make_repository(&work.path().join("app"), 1);
    Instance {
        world,
        url,
        container,
        work,
    }
}

impl Instance {
    /// A backup; then GitLab is serving again (a backup may return before it is).
    fn backup(&self) -> String {
        let id = self.world.backup(1, &[]);
        wait_healthy(&self.container);
        id
    }
    fn project(&self) -> String {
        format!("{}/grp/app.git", self.url)
    }
    fn push(&self, message: &str) -> String {
        push_commit(&self.work.path().join("app"), &self.project(), message)
    }
    fn dir(&self) -> String {
        self.world.instance_dir(1).display().to_string()
    }
    fn volumes(&self) -> PathBuf {
        self.world.instance_dir(1).join("mapping-volumes")
    }
    fn secrets(&self) -> Vec<u8> {
        fs::read(self.volumes().join("config/gitlab-secrets.json")).unwrap()
    }
    fn started(&self) -> String {
        docker(&[
            "inspect",
            "--format",
            "{{.State.StartedAt}}",
            &self.container,
        ])
    }
    fn restore(&self, extra: &[&str]) -> common::Run {
        let dir = self.dir();
        let mut args = vec![
            self.container.as_str(),
            dir.as_str(),
            "--wait-timeout",
            "90",
        ];
        args.extend_from_slice(extra);
        self.world.run("girofle-restore", &args)
    }
    /// The backups whose MANIFEST says they were taken before a restore, with the backup restored.
    fn taken_before_restore(&self) -> Vec<(String, String)> {
        self.world
            .backup_names(1)
            .into_iter()
            .filter_map(|name| {
                let manifest = fs::read_to_string(
                    self.world
                        .instance_dir(1)
                        .join("bckups")
                        .join(&name)
                        .join("MANIFEST"),
                )
                .ok()?;
                let restored = header(&manifest, "taken_before_restore")?;
                Some((name, restored))
            })
            .collect()
    }
}

fn header(manifest: &str, key: &str) -> Option<String> {
    manifest
        .lines()
        .take_while(|line| !line.is_empty())
        .find_map(|line| line.strip_prefix(&format!("{key}: ")))
        .map(str::to_string)
}

/// Every entry under `root` (MANIFEST left out): its kind, mode, owner,
/// size, mtime and content.
fn tree(root: &Path) -> BTreeMap<PathBuf, (u32, u32, u32, i64, Vec<u8>)> {
    let mut found = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        let metadata = fs::symlink_metadata(&path).unwrap();
        let relative = path.strip_prefix(root).unwrap().to_path_buf();
        if relative == Path::new("MANIFEST") {
            continue;
        }
        let content = if metadata.is_file() {
            fs::read(&path).unwrap()
        } else if metadata.is_symlink() {
            fs::read_link(&path)
                .unwrap()
                .into_os_string()
                .into_encoded_bytes()
        } else {
            Vec::new()
        };
        let mtime = if metadata.is_dir() {
            0
        } else {
            metadata.mtime()
        };
        if relative != Path::new("") {
            found.insert(
                relative,
                (
                    metadata.mode(),
                    metadata.uid(),
                    metadata.gid(),
                    mtime,
                    content,
                ),
            );
        }
        if metadata.is_dir() {
            for entry in fs::read_dir(&path).unwrap() {
                stack.push(entry.unwrap().path());
            }
        }
    }
    found
}

mod burnt;
mod corrupt;
mod local;
