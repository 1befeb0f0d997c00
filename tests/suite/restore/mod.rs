//! girofle-restore and girofle-decommission against a real engine.

use crate::common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
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

fn instance_with_history() -> Instance {
    let world = Scenario::new();
    let ip = fresh_ip();
    let url = world.commission(&["--ip", &ip, "--hostname", &ip]);
    let container = format!("{}-gitlab-1", world.prefix);
    let work = tempfile::tempdir().unwrap();
    make_repository(&work.path().join("app"), 2);
    Instance {
        world,
        url,
        container,
        work,
    }
}

impl Instance {
    fn app(&self) -> std::path::PathBuf {
        self.work.path().join("app")
    }
    fn dir(&self) -> String {
        self.world.instance_dir(1).display().to_string()
    }
    fn secrets(&self) -> std::path::PathBuf {
        self.world
            .instance_dir(1)
            .join("mapping-volumes/config/gitlab-secrets.json")
    }
}

mod asked;
mod decommission;
mod restores;
