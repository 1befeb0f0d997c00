//! A real OpenSSH server on loopback, standing for another machine.

use super::*;

/// A real OpenSSH server on a loopback address and port of its own, key
/// authentication only, standing for another machine. Its files live in a
/// temp directory; it is stopped when dropped.
pub struct Sshd {
    child: std::process::Child,
    pub ip: String,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Sshd {
    pub fn start() -> Sshd {
        let dir = tempfile::tempdir().unwrap();
        let ip = fresh_ip();
        let port = {
            let listener = std::net::TcpListener::bind(format!("{ip}:0")).unwrap();
            listener.local_addr().unwrap().port()
        };
        for key in ["host_key", "client_key", "other_host_key"] {
            let status = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(dir.path().join(key))
                .status()
                .unwrap();
            assert!(status.success());
        }
        std::fs::copy(
            dir.path().join("client_key.pub"),
            dir.path().join("authorized_keys"),
        )
        .unwrap();
        std::fs::create_dir_all("/run/sshd").unwrap();
        let config = format!(
            "ListenAddress {ip}:{port}\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
             PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nPidFile none\n",
            d = dir.path().display()
        );
        std::fs::write(dir.path().join("sshd_config"), config).unwrap();
        let host_key = std::fs::read_to_string(dir.path().join("host_key.pub")).unwrap();
        std::fs::write(
            dir.path().join("known_hosts"),
            format!("[{ip}]:{port} {host_key}"),
        )
        .unwrap();
        let other = std::fs::read_to_string(dir.path().join("other_host_key.pub")).unwrap();
        std::fs::write(
            dir.path().join("wrong_known_hosts"),
            format!("[{ip}]:{port} {other}"),
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("storage")).unwrap();
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-f"])
            .arg(dir.path().join("sshd_config"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sshd starts (apt-get install openssh-server)");
        let start = std::time::Instant::now();
        while TcpStream::connect(format!("{ip}:{port}")).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "sshd did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Sshd {
            child,
            ip,
            port,
            dir,
        }
    }

    /// The storage directory the target points at (on this machine).
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// The `[targets.NAME]` table for this server.
    pub fn target(&self, name: &str, known_hosts: &str) -> String {
        format!(
            "[targets.{name}]\nurl = \"root@{ip}:{storage}\"\nport = {port}\nidentity = \"{d}/client_key\"\nknown_hosts = \"{d}/{known_hosts}\"\n",
            ip = self.ip,
            port = self.port,
            storage = self.storage().display(),
            d = self.dir.path().display()
        )
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
