//! What `docker run` is given for one GitLab container, as the contract fixes it.

use std::path::PathBuf;

/// Everything `docker run` needs for one GitLab container.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// The container name.
    pub name: String,
    /// The host name inside the container.
    pub hostname: String,
    /// Labels, as `key=value`.
    pub labels: Vec<(String, String)>,
    /// Published ports: host address, host port, container port.
    pub publish: Vec<(String, u16, u16)>,
    /// Bind mounts: host path, container path.
    pub mounts: Vec<(PathBuf, String)>,
    /// Environment variables.
    pub env: Vec<(String, String)>,
    /// The image reference.
    pub image: String,
}

impl RunSpec {
    /// The arguments of `docker run` for this spec, as the contract fixes them.
    pub fn arguments(&self) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "run".into(),
            "--detach".into(),
            "--name".into(),
            self.name.clone(),
            "--hostname".into(),
            self.hostname.clone(),
            "--restart".into(),
            "always".into(),
            "--shm-size".into(),
            "256m".into(),
        ];
        for (key, value) in &self.labels {
            args.push("--label".into());
            args.push(format!("{key}={value}"));
        }
        for (ip, host_port, container_port) in &self.publish {
            args.push("--publish".into());
            args.push(format!(
                "{}:{host_port}:{container_port}",
                publish_address(ip)
            ));
        }
        for (host, container) in &self.mounts {
            args.push("--volume".into());
            args.push(format!("{}:{container}", host.display()));
        }
        for (key, value) in &self.env {
            args.push("--env".into());
            args.push(format!("{key}={value}"));
        }
        args.push(self.image.clone());
        args
    }
}

fn publish_address(ip: &str) -> String {
    if ip.contains(':') {
        format!("[{ip}]")
    } else {
        ip.to_string()
    }
}
