//! What an operator finds around the binaries: `--help` with the environment,
//! exit codes and examples; shell completions and man pages, generated and
//! installed; girofle.log rotated by the real logrotate; and the legacy
//! decommission script asking for its instance on a terminal.

use crate::common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{BINARIES, Scenario, binary_path, fresh_ip};

/// Every binary, the client included, and the variables each one honours.
const HONOURED: [(&str, &[&str]); 7] = [
    (
        "girofle-commission",
        &[
            "GIROFLE_HOME",
            "GIROFLE_CRON_DIR",
            "GIROFLE_IMAGE",
            "GIROFLE_PREFIX",
            "DOCKER_HOST",
        ],
    ),
    ("girofle-list", &["GIROFLE_HOME", "DOCKER_HOST"]),
    (
        "girofle-backup",
        &[
            "GIROFLE_HOME",
            "GIROFLE_CRON_DIR",
            "GIROFLE_PREFIX",
            "DOCKER_HOST",
        ],
    ),
    (
        "girofle-restore",
        &[
            "GIROFLE_HOME",
            "GIROFLE_CRON_DIR",
            "GIROFLE_PREFIX",
            "DOCKER_HOST",
        ],
    ),
    (
        "girofle-decommission",
        &[
            "GIROFLE_HOME",
            "GIROFLE_CRON_DIR",
            "GIROFLE_PREFIX",
            "DOCKER_HOST",
        ],
    ),
    ("girofle-ntp-fix", &["GIROFLE_HOME"]),
    ("girofle-client", &["GIROFLE_CLIENT_CONFIG"]),
];

const CONTRACT_VARIABLES: [&str; 5] = [
    "GIROFLE_HOME",
    "GIROFLE_CRON_DIR",
    "GIROFLE_IMAGE",
    "GIROFLE_PREFIX",
    "DOCKER_HOST",
];

/// The lines of `text` after the line `heading`, up to the next empty line.
fn section<'a>(text: &'a str, heading: &str) -> Vec<&'a str> {
    text.lines()
        .skip_while(|line| *line != heading)
        .skip(1)
        .take_while(|line| !line.is_empty())
        .collect()
}

fn generate(binary: &str, what: &str) -> String {
    let output = Command::new(binary_path(binary))
        .args(["--generate", what])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{binary} --generate {what}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn help_shows_the_environment_the_exit_codes_and_two_examples() {
    let world = Scenario::new();
    for (binary, variables) in HONOURED {
        let help = world.run(binary, &["--help"]).expect_code(0);
        let text = help.stdout;
        let environment = section(&text, "Environment:").join("\n");
        for variable in variables {
            assert!(
                environment.contains(&format!("  {variable}\n")),
                "{binary} does not show {variable}:\n{text}"
            );
        }
        for variable in CONTRACT_VARIABLES {
            if !variables.contains(&variable) {
                assert!(
                    !environment.contains(variable),
                    "{binary} shows {variable}, which it does not honour:\n{text}"
                );
            }
        }
        if variables.contains(&"GIROFLE_HOME") {
            assert!(environment.contains("REPERTOIRE_GIROFLE"), "{text}");
        }
        let codes: Vec<&str> = section(&text, "Exit codes:")
            .into_iter()
            .filter_map(|line| line.split_whitespace().next())
            .filter(|word| word.parse::<u8>().is_ok())
            .collect();
        let partial = matches!(binary, "girofle-backup" | "girofle-restore");
        let expected: &[&str] = if partial {
            &["0", "1", "2", "3"]
        } else {
            &["0", "1", "2"]
        };
        assert_eq!(codes, expected, "{binary}:\n{text}");
        let examples: Vec<&str> = section(&text, "Examples:")
            .into_iter()
            .filter(|line| line.trim_start().starts_with(binary))
            .collect();
        assert_eq!(examples.len(), 2, "{binary}:\n{text}");
        // The short help stays short.
        let short = world.run(binary, &["-h"]).expect_code(0);
        assert!(!short.stdout.contains("Exit codes:"), "{binary}");
    }
}

#[test]
fn completions_and_man_pages_are_generated_and_parse() {
    let mut all = BINARIES.to_vec();
    all.push("girofle-client");
    let scratch = tempfile::tempdir().unwrap();
    for binary in all {
        let bash = generate(binary, "completion-bash");
        let file = scratch.path().join(binary);
        fs::write(&file, &bash).unwrap();
        let syntax = Command::new("bash").arg("-n").arg(&file).output().unwrap();
        assert!(
            syntax.status.success(),
            "{binary}: {}",
            String::from_utf8_lossy(&syntax.stderr)
        );
        // What bash offers after `BINARY --h<TAB>`.
        let script = format!(
            "source '{}'; function=$(complete -p {binary} | sed -n 's/.* -F \\([^ ]*\\) .*/\\1/p'); \
             COMP_WORDS=({binary} --h); COMP_CWORD=1; \"$function\" {binary} --h {binary}; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            file.display()
        );
        let offered = Command::new("bash").args(["-c", &script]).output().unwrap();
        let offered = String::from_utf8_lossy(&offered.stdout);
        assert!(
            offered.lines().any(|word| word == "--help"),
            "{binary}: {offered}"
        );
        if binary != "girofle-client" {
            assert!(
                offered.lines().any(|word| word == "--home"),
                "{binary}: {offered}"
            );
        }

        let zsh = generate(binary, "completion-zsh");
        assert!(zsh.starts_with(&format!("#compdef {binary}\n")), "{zsh}");
        let fish = generate(binary, "completion-fish");
        assert!(
            fish.lines().all(|line| line.is_empty()
                || line.starts_with(&format!("complete -c {binary} "))
                || !line.starts_with("complete")),
            "{fish}"
        );
        assert!(fish.contains(&format!("complete -c {binary} ")), "{fish}");
        for (shell, text, name) in [("zsh", &zsh, "zsh"), ("fish", &fish, "fish")] {
            if which(shell) {
                let path = scratch.path().join(format!("{binary}.{name}"));
                fs::write(&path, text).unwrap();
                let syntax = Command::new(shell).arg("-n").arg(&path).output().unwrap();
                assert!(syntax.status.success(), "{shell} -n {binary}");
            }
        }

        let man = generate(binary, "man");
        assert!(
            man.lines()
                .any(|line| line.starts_with(&format!(".TH {binary} 1 "))),
            "{binary}: {man}"
        );
        let page = scratch.path().join(format!("{binary}.1"));
        fs::write(&page, &man).unwrap();
        let rendered = Command::new("groff")
            .args(["-man", "-Tutf8", "-ww"])
            .arg(&page)
            .output()
            .unwrap();
        assert!(rendered.status.success(), "{binary}");
        assert!(
            rendered.stderr.is_empty(),
            "{binary}: {}",
            String::from_utf8_lossy(&rendered.stderr)
        );
        let shown = man_l(&page);
        assert!(shown.contains("Exit codes:"), "{binary}: {shown}");
        assert!(shown.contains("Examples:"), "{binary}: {shown}");
    }
    let bad = Command::new(binary_path("girofle-list"))
        .args(["--generate", "completion-tcsh"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("completion-bash"));
}

fn which(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .unwrap()
        .status
        .success()
}

/// The page as `man -l` shows it.
fn man_l(page: &Path) -> String {
    let output = Command::new("man")
        .args(["-P", "cat", "-l"])
        .arg(page)
        .env("MANWIDTH", "200")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "man -l {}: {}",
        page.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn install(world: &Scenario, tree: &Path, share: &Path, ip: &str) -> common::Run {
    let output = world
        .command("sh")
        .arg(tree.join("install.sh"))
        .env("GIROFLE_SHARE_ROOT", share)
        .args(["--home", world.home.to_str().unwrap(), "--bin-dir"])
        .arg(tree.join("bin"))
        .args(["--yes", "--image", common::STANDIN_IMAGE, "--ip", ip])
        .args(["--hostname", ip])
        .output()
        .unwrap();
    common::Run::from(output)
}

#[test]
fn install_puts_completions_man_pages_and_a_logrotate_file_that_rotates_the_log() {
    let world = Scenario::new();
    let tree = common::release_tree();
    let share = tree.path().join("share");
    let ip = fresh_ip();
    install(&world, tree.path(), &share, &ip).expect_code(0);

    for binary in BINARIES {
        for (path, what) in [
            (
                format!("usr/share/bash-completion/completions/{binary}"),
                "completion-bash",
            ),
            (
                format!("usr/local/share/zsh/site-functions/_{binary}"),
                "completion-zsh",
            ),
            (
                format!("usr/share/fish/vendor_completions.d/{binary}.fish"),
                "completion-fish",
            ),
            (format!("usr/local/share/man/man1/{binary}.1"), "man"),
        ] {
            let installed = share.join(&path);
            let text = fs::read_to_string(&installed)
                .unwrap_or_else(|error| panic!("{path} not installed: {error}"));
            assert_eq!(text, generate(binary, what), "{path}");
            assert_eq!(
                fs::metadata(&installed).unwrap().mode() & 0o777,
                0o644,
                "{path}"
            );
        }
        let shown = man_l(&share.join(format!("usr/local/share/man/man1/{binary}.1")));
        assert!(shown.contains("GIROFLE_HOME"), "{binary}: {shown}");
    }

    // The home has a prefix of its own, so its logrotate file is named after it.
    let conf = share.join(format!("etc/logrotate.d/girofle-{}", world.prefix));
    let text = fs::read_to_string(&conf).unwrap();
    assert!(
        text.contains(&format!("\"{}/girofle.log\" {{", world.home.display())),
        "{text}"
    );
    assert!(!text.contains("copytruncate"), "{text}");
    let log = world.home.join("girofle.log");
    let before = fs::read_to_string(&log).unwrap();
    assert!(before.contains("commission"), "{before}");

    let state = tree.path().join("logrotate.state");
    let rotate = || {
        let output = Command::new("logrotate")
            .arg("-f")
            .arg("-s")
            .arg(&state)
            .arg(&conf)
            .output()
            .unwrap();
        assert!(
            output.status.success() && output.stderr.is_empty(),
            "logrotate: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    rotate();
    let rotated = gunzip(&world.home.join("girofle.log.1.gz"));
    assert_eq!(rotated, before);
    let fresh = fs::metadata(&log).unwrap();
    assert_eq!(fresh.len(), 0);
    assert_eq!(fresh.mode() & 0o777, 0o640);
    assert_eq!(fresh.uid(), 0);
    assert_eq!(fresh.gid(), group_id("girofle"));

    // Girofle goes on appending to the new file, which the next rotation takes.
    world
        .run("girofle-decommission", &["1", "--no-backup"])
        .expect_code(0);
    let after = fs::read_to_string(&log).unwrap();
    assert!(after.contains("decommission"), "{after}");
    assert_eq!(fs::metadata(&log).unwrap().mode() & 0o777, 0o640);
    rotate();
    assert_eq!(gunzip(&world.home.join("girofle.log.1.gz")), after);
    assert_eq!(gunzip(&world.home.join("girofle.log.2.gz")), before);

    // A second run finds everything of this in place.
    let second = install(&world, tree.path(), &share, &ip).expect_code(0);
    assert!(
        !second.stderr.contains(share.to_str().unwrap()),
        "{}",
        second.stderr
    );
}

fn gunzip(path: &Path) -> String {
    let output = Command::new("gzip")
        .args(["-dc"])
        .arg(path)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", path.display());
    String::from_utf8(output.stdout).unwrap()
}

fn group_id(name: &str) -> u32 {
    let output = Command::new("getent")
        .args(["group", name])
        .output()
        .unwrap();
    String::from_utf8(output.stdout)
        .unwrap()
        .split(':')
        .nth(2)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// The legacy script as installed: `operations-std/serveur/` beside the binary.
fn legacy_decommission_script(root: &Path) -> PathBuf {
    let serveur = root.join("operations-std/serveur");
    fs::create_dir_all(&serveur).unwrap();
    std::os::unix::fs::symlink(
        binary_path("girofle-decommission"),
        root.join("operations-std/girofle-decommission"),
    )
    .unwrap();
    let script = serveur.join("decomissioner-instance-gitlab.sh");
    fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("operations-std/serveur/decomissioner-instance-gitlab.sh"),
        &script,
    )
    .unwrap();
    script
}

#[test]
fn the_decommission_script_without_argument_asks_on_a_terminal_only() {
    let world = Scenario::new();
    let ip = fresh_ip();
    world.commission(&["--ip", &ip, "--hostname", &ip]);
    world.commission(&["docs", "--ip", &ip, "--hostname", &ip]);
    let scripts = tempfile::tempdir().unwrap();
    let script = legacy_decommission_script(scripts.path());

    // No terminal: a usage error, and nothing changed.
    let run = world.run(script.to_str().unwrap(), &[]).expect_code(2);
    assert!(run.stderr.contains("terminal"), "{}", run.stderr);
    assert_eq!(world.entry(1)["state"], "commissioned");
    assert_eq!(world.entry(2)["state"], "commissioned");

    // `script` gives it a terminal; the answer comes through it.
    let mut child = world
        .command("script")
        .arg("-qec")
        // Without the final backup, which restore.rs's decommission test covers (it takes minutes).
        .arg(format!("{} --no-backup", script.display()))
        .arg("/dev/null")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"docs\n").unwrap();
    let output = child.wait_with_output().unwrap();
    let screen = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{screen}");
    assert!(screen.contains("Commissioned instances:"), "{screen}");
    for number in [1, 2] {
        let container = world.entry(number)["container"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            screen.contains(&container),
            "{container} not offered: {screen}"
        );
    }
    assert!(screen.contains("Instance to decommission"), "{screen}");
    assert!(screen.contains("instance 2 decommissioned"), "{screen}");
    assert_eq!(world.entry(1)["state"], "commissioned");
    assert_eq!(world.entry(2)["state"], "decommissioned");
    assert_eq!(world.entry(2)["status"], "missing");
}
