//! What a GitLab container is, as Girofle runs it: its three volumes, its
//! `docker run` specification, its omnibus config and labels.

use crate::docker::RunSpec;
use crate::home::{Home, InstanceDir};
use crate::inventory::Row;

/// The three volumes, in the order they are copied.
pub const VOLUMES: [&str; 3] = ["config", "data", "log"];

/// Where the omnibus image keeps the version it runs.
pub const IMAGE_VERSION_FILE: &str = "/opt/gitlab/embedded/service/gitlab-rails/VERSION";

/// The labels of an instance's container: its home and its number.
pub fn labels(home: &Home, row: &Row) -> Vec<(String, String)> {
    vec![
        ("girofle.home".into(), home.root().display().to_string()),
        ("girofle.instance".into(), row.number.to_string()),
    ]
}

/// The `docker run` of an instance, as its inventory row describes it.
pub fn run_spec(home: &Home, row: &Row, instance: &InstanceDir) -> RunSpec {
    let http = row.http_port.unwrap_or(80);
    let ssh = row.ssh_port.unwrap_or(22);
    let mut publish = vec![(row.ip.clone(), http, http)];
    if let Some(https) = row.https_port {
        publish.push((row.ip.clone(), https, 443));
    }
    publish.push((row.ip.clone(), ssh, 22));
    RunSpec {
        name: row.container.clone(),
        hostname: row.hostname.clone(),
        labels: labels(home, row),
        publish,
        mounts: vec![
            (instance.config(), "/etc/gitlab".into()),
            (instance.data(), "/var/opt/gitlab".into()),
            (instance.logs(), "/var/log/gitlab".into()),
        ],
        env: vec![("GITLAB_OMNIBUS_CONFIG".into(), omnibus_config(row))],
        image: row.image.clone(),
    }
}

/// The `GITLAB_OMNIBUS_CONFIG` of an instance: its URL and SSH port.
pub fn omnibus_config(row: &Row) -> String {
    format!(
        "external_url '{}'; gitlab_rails['gitlab_shell_ssh_port'] = {}",
        row.url(),
        row.ssh_port.unwrap_or(22)
    )
}
