//! The `girofle` user and group, and a release tree to install from (issue 10 §1, §7).

use super::*;

/// Creates the `girofle` group and system user the way install.sh does, if missing.
pub fn ensure_girofle_user() {
    let exists = |args: &[&str]| {
        Command::new("getent")
            .args(args)
            .output()
            .map(|output| output.status.success())
            .unwrap_or(false)
    };
    if !exists(&["group", "girofle"]) {
        let _ = Command::new("groupadd")
            .args(["--system", "girofle"])
            .status();
    }
    if !exists(&["passwd", "girofle"]) {
        let _ = Command::new("useradd")
            .args([
                "--system",
                "--gid",
                "girofle",
                "--no-create-home",
                "--shell",
                "/bin/false",
                "girofle",
            ])
            .status();
    }
}

impl Scenario {
    /// Lets other users reach the home (the scenario's temp root is 0700);
    /// what they may do in it is then up to the home's own modes.
    pub fn open_to_others(&self) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(self._root.path(), std::fs::Permissions::from_mode(0o755))
            .unwrap();
    }

    /// Runs a binary of the crate (or any program) as the `girofle` user,
    /// member of the `girofle` group only, in this scenario's world.
    pub fn run_as_girofle(&self, binary: &str, args: &[&str]) -> Run {
        let program = self.command(binary).get_program().to_owned();
        let mut command = self.command("setpriv");
        command
            .args(["--reuid=girofle", "--regid=girofle", "--init-groups", "--"])
            .arg(program)
            .args(args);
        Run::from(command.output().unwrap())
    }

    /// Runs `sh -c script` as the `girofle` user, `$HOME_DIR` naming the home.
    pub fn sh_as_girofle(&self, script: &str) -> Run {
        let mut command = self.command("setpriv");
        command
            .args(["--reuid=girofle", "--regid=girofle", "--init-groups", "--"])
            .args(["sh", "-c", script])
            .env("HOME_DIR", &self.home);
        Run::from(command.output().unwrap())
    }
}

/// A copy of the project as a host receives it: install.sh, the wrappers,
/// and the prebuilt binaries in dist/ (so that no build runs in the test).
pub fn release_tree() -> tempfile::TempDir {
    let tree = tempfile::tempdir().unwrap();
    let project = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(project.join("install.sh"), tree.path().join("install.sh")).unwrap();
    let wrappers = tree.path().join("operations-std/serveur");
    std::fs::create_dir_all(&wrappers).unwrap();
    for entry in std::fs::read_dir(project.join("operations-std/serveur"))
        .unwrap()
        .flatten()
    {
        std::fs::copy(entry.path(), wrappers.join(entry.file_name())).unwrap();
    }
    std::fs::create_dir(tree.path().join("dist")).unwrap();
    for binary in BINARIES {
        std::fs::copy(binary_path(binary), tree.path().join("dist").join(binary)).unwrap();
    }
    tree
}
