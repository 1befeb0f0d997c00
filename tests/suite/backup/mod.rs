//! girofle-backup against a real engine: exact, incremental, consistent,
//! verified, bounded by space and retention, safe under kill -9.

use crate::common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::process::Command;
use std::time::Duration;

use common::{Scenario, docker, fresh_ip, make_repository, push_commit, status, wait_healthy};

fn manifest(world: &Scenario, number: u32, id: &str) -> String {
    fs::read_to_string(
        world
            .instance_dir(number)
            .join("bckups")
            .join(id)
            .join("MANIFEST"),
    )
    .unwrap()
}

fn walk(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                stack.push(path.clone());
            }
            out.push(path);
        }
    }
    out
}

mod copies;
mod dry_run;
mod frozen;
