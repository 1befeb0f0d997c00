//! Issue 19 §3: a copy fetched from a target is data, never instructions for root.

use super::*;

// ---------------------------------------------------------------------------
// Issue 19 §3: a copy fetched from a target is data, never instructions for
// root. Host A ships its state off-site and burns; what an attacker who can
// write on the target changes there is refused, or neutralised, by
// `girofle-restore --all` on host B.

/// Host A, burnt: one instance backed up, its state shipped to `offsite`.
struct Burnt {
    /// A's scenario (its home is gone; its prefix names the container).
    a: Scenario,
    offsite: tempfile::TempDir,
    /// A's state key, kept off the host as the operator keeps it.
    key: PathBuf,
    /// The state backup on the target.
    state: PathBuf,
    _keep: tempfile::TempDir,
}

fn configure_offsite(world: &Scenario, host: Option<&str>, offsite: &Path) {
    fs::create_dir_all(&world.home).unwrap();
    let host = host
        .map(|h| format!("[girofle]\nhost = \"{h}\"\n\n"))
        .unwrap_or_default();
    fs::write(
        world.home.join("girofle.conf"),
        format!(
            "{host}[targets.off-site]\nurl = \"{}\"\n",
            offsite.display()
        ),
    )
    .unwrap();
}

fn burnt_host() -> Burnt {
    let offsite = tempfile::tempdir().unwrap();
    let a = Scenario::new();
    configure_offsite(&a, Some("host-a"), offsite.path());
    let ip = fresh_ip();
    a.commission(&["--ip", &ip, "--hostname", &ip]);
    a.run("girofle-backup", &["--all"]).expect_code(0);
    a.run("girofle-backup", &["--init-target", "off-site"])
        .expect_code(0);
    a.run("girofle-backup", &["--state", "--to", "off-site"])
        .expect_code(0);
    let keep = tempfile::tempdir().unwrap();
    let key = keep.path().join("host-a.key");
    assert!(
        a.home.join("state.key").is_file(),
        "the state backup made no key"
    );
    fs::copy(a.home.join("state.key"), &key).unwrap();
    let states = offsite.path().join("host-a/sauvegardes");
    let id = common::sorted_names(&states)
        .into_iter()
        .rfind(|name| !name.starts_with('.'))
        .expect("a state backup on the target");
    docker(&["rm", "--force", &format!("{}-gitlab-1", a.prefix)]);
    fs::remove_dir_all(&a.home).unwrap();
    let _ = fs::remove_dir_all(&a.cron_dir);
    Burnt {
        a,
        state: states.join(id),
        offsite,
        key,
        _keep: keep,
    }
}

impl Burnt {
    /// Host B: a fresh home that knows the target.
    fn new_host(&self) -> Scenario {
        let b = Scenario::new();
        configure_offsite(&b, None, self.offsite.path());
        b
    }

    fn restore_all(&self, b: &Scenario, extra: &[&str]) -> common::Run {
        let key = self.key.display().to_string();
        let mut args = vec![
            "--all",
            "--wait-timeout",
            "120",
            "--from",
            "off-site",
            "--source",
            "host-a",
            "--state-key",
            key.as_str(),
        ];
        args.extend_from_slice(extra);
        b.run("girofle-restore", &args)
    }

    /// What an attacker who can write on the target can do: rewrite the
    /// MANIFEST to match the files changed, leaving the MAC as it was.
    fn rehash(&self) {
        let mac = self.state.join("MANIFEST.mac");
        let aside = self.state.with_extension("mac-aside");
        let had_mac = mac.exists();
        if had_mac {
            fs::rename(&mac, &aside).unwrap();
        }
        let manifest = self.state.join("MANIFEST");
        let header = girofle::snapshot::Manifest::read(&manifest).unwrap().header;
        fs::remove_file(&manifest).unwrap();
        let entries = girofle::snapshot::describe(&self.state).unwrap();
        girofle::snapshot::write_manifest(
            &self.state,
            &girofle::snapshot::Manifest { header, entries },
        )
        .unwrap();
        if had_mac {
            fs::rename(&aside, &mac).unwrap();
        }
    }

    /// What only the key's holder can do (a compromised host A, say): sign it.
    /// The MAC is BLAKE3 keyed with the 32 bytes the key file spells in hex.
    fn sign(&self) {
        let hex = fs::read_to_string(&self.key).unwrap();
        let hex = hex.trim();
        let mut key = [0u8; 32];
        for (index, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * index..2 * index + 2], 16).unwrap();
        }
        let manifest = fs::read(self.state.join("MANIFEST")).unwrap();
        fs::write(
            self.state.join("MANIFEST.mac"),
            format!(
                "blake3-keyed {}\n",
                blake3::keyed_hash(&key, &manifest).to_hex()
            ),
        )
        .unwrap();
    }

    fn edit(&self, file: &str, change: impl FnOnce(String) -> String) {
        let path = self.state.join(file);
        let text = fs::read_to_string(&path).unwrap();
        fs::write(&path, change(text)).unwrap();
    }

    fn cron_file(&self, suffix: &str) -> String {
        common::sorted_names(&self.state.join("cron.d"))
            .into_iter()
            .find(|name| name.ends_with(suffix))
            .unwrap_or_else(|| panic!("no cron entry *{suffix} in the state backup"))
    }
}

/// Nothing of the state was written on host B: no inventory, counter, cron
/// entry, container or state backup; girofle.conf as it was.
fn nothing_written(b: &Scenario, conf_before: &[u8]) {
    assert!(b.inventory_bytes().is_empty(), "an inventory was written");
    assert!(!b.home.join(".auto-increment.girofle").exists());
    assert!(!b.home.join("sauvegardes").exists());
    assert!(common::sorted_names(&b.cron_dir).is_empty());
    assert!(b.containers().is_empty());
    assert_eq!(fs::read(b.home.join("girofle.conf")).unwrap(), conf_before);
    assert!(!b.home.join("state.key").exists());
}

#[test]
fn a_state_backup_changed_on_the_target_and_re_hashed_without_the_key_is_refused() {
    let burnt = burnt_host();
    let b = burnt.new_host();
    let conf_before = fs::read(b.home.join("girofle.conf")).unwrap();
    // The attacker adds an alert that runs their program, and re-hashes the
    // MANIFEST so that it matches: only the MAC, made with A's key, is left.
    burnt.edit("girofle.conf", |text| {
        format!("{text}\n[notify]\ncommand = [\"/bin/sh\", \"-c\", \"id\"]\non = [\"success\", \"failure\"]\n")
    });
    burnt.rehash();
    let run = burnt.restore_all(&b, &[]).expect_code(1);
    assert!(
        run.stderr.contains("does not match its MAC") && run.stderr.contains("Nothing was changed"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
    nothing_written(&b, &conf_before);

    // Without the key (a new host, the operator forgot it): told what to give.
    let run = b
        .run(
            "girofle-restore",
            &["--all", "--from", "off-site", "--source", "host-a"],
        )
        .expect_code(1);
    assert!(run.stderr.contains("--state-key FILE"), "{}", run.stderr);
    nothing_written(&b, &conf_before);

    // The MAC removed, as if the copy came from an older Girofle: refused
    // unless the operator accepts an unauthenticated copy, explicitly.
    fs::remove_file(burnt.state.join("MANIFEST.mac")).unwrap();
    let run = burnt.restore_all(&b, &[]).expect_code(1);
    assert!(
        run.stderr.contains("carries no MANIFEST.mac")
            && run.stderr.contains("--accept-unauthenticated-state"),
        "{}",
        run.stderr
    );
    nothing_written(&b, &conf_before);
}

#[test]
fn a_cron_entry_of_a_fetched_state_backup_never_runs_a_program_shipped_inside_it() {
    let burnt = burnt_host();
    let b = burnt.new_host();
    let conf_before = fs::read(b.home.join("girofle.conf")).unwrap();
    let id = burnt
        .state
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    // A script shipped inside the state backup, which lands in B's
    // sauvegardes/, and instance 1's cron entry edited to run it as root.
    let payload = b.home.join("sauvegardes").join(&id).join("payload.sh");
    let marker = b.home.with_file_name("pwned");
    fs::write(
        burnt.state.join("payload.sh"),
        format!("#!/bin/sh\ntouch {}\n", marker.display()),
    )
    .unwrap();
    fs::set_permissions(
        burnt.state.join("payload.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let entry = burnt.cron_file("-gitlab-1");
    burnt.edit(&format!("cron.d/{entry}"), |text| {
        text.lines()
            .map(|line| match line.split_once(" root ") {
                Some((schedule, command)) => {
                    let rest = command.split_once(" --home ").unwrap().1;
                    format!("{schedule} root {} --home {rest}\n", payload.display())
                }
                None => format!("{line}\n"),
            })
            .collect()
    });
    burnt.rehash();

    // Changed on the target: refused, nothing written.
    burnt.restore_all(&b, &[]).expect_code(1);
    nothing_written(&b, &conf_before);

    // Signed by the key's holder (host A itself compromised): the entry is
    // rebuilt from the inventory by this host's girofle-backup.
    burnt.sign();
    let run = burnt.restore_all(&b, &[]).expect_code(0);
    assert!(payload.exists(), "the payload was not shipped along");
    let names = common::sorted_names(&b.cron_dir);
    assert!(!names.is_empty());
    for name in &names {
        let text = fs::read_to_string(b.cron_dir.join(name)).unwrap();
        assert!(!text.contains("payload"), "{name}: {text}");
    }
    let text = fs::read_to_string(b.cron_dir.join(format!("{}-gitlab-1", b.prefix))).unwrap();
    let backup = common::binary_path("girofle-backup").display().to_string();
    assert!(
        text.contains(&format!(
            "0 */4 * * * root {backup} --home {} 1 >/dev/null",
            b.home.display()
        )),
        "{text}"
    );
    assert!(
        run.stderr.contains(&format!("cron entry {entry}"))
            && run.stderr.contains("rebuilt as Girofle writes it"),
        "{}",
        run.stderr
    );
    assert!(!marker.exists());
}

#[test]
fn settings_of_a_fetched_girofle_conf_that_run_or_send_something_wait_for_yes() {
    let burnt = burnt_host();
    let b = burnt.new_host();
    let marker = b.home.with_file_name("pwned");
    let victim = b.home.with_file_name("victim.prom");
    burnt.edit("girofle.conf", |text| {
        format!(
            "{text}\n[notify]\ncommand = [\"/bin/sh\", \"-c\", \"touch {}\"]\non = [\"success\", \"failure\"]\n\n\
             [metrics]\ntextfile = \"{}\"\n\n[targets.elsewhere]\nurl = \"/srv/attacker\"\n",
            marker.display(),
            victim.display()
        )
    });
    burnt.rehash();
    burnt.sign();
    let run = burnt.restore_all(&b, &[]).expect_code(0);

    // girofle.conf is A's, root's alone, without what runs or sends.
    let conf = fs::read_to_string(b.home.join("girofle.conf")).unwrap();
    assert!(conf.contains("host = \"host-a\""), "{conf}");
    assert!(conf.contains("[targets.off-site]"), "{conf}");
    for left_out in ["[notify]", "[metrics]", "elsewhere"] {
        assert!(!conf.contains(left_out), "{left_out}: {conf}");
    }
    let metadata = fs::metadata(b.home.join("girofle.conf")).unwrap();
    assert_eq!((metadata.uid(), metadata.mode() & 0o777), (0, 0o600));
    // The whole file is set aside, and the operator is shown what was left out.
    let aside = b.home.join(format!(
        "girofle.conf.from-state-{}",
        burnt.state.file_name().unwrap().to_string_lossy()
    ));
    assert!(
        fs::read_to_string(&aside).unwrap().contains("[notify]"),
        "{}",
        aside.display()
    );
    assert_eq!(fs::metadata(&aside).unwrap().mode() & 0o777, 0o600);
    for shown in [
        "[notify] command",
        "[metrics] textfile",
        "[targets.elsewhere]",
        "--yes",
    ] {
        assert!(run.stderr.contains(shown), "{shown}: {}", run.stderr);
    }
    assert!(
        run.stderr.contains(&aside.display().to_string()),
        "{}",
        run.stderr
    );

    // The next backups run nothing of it.
    b.run("girofle-backup", &["1"]).expect_code(0);
    assert!(!marker.exists(), "the fetched [notify] command ran as root");
    assert!(
        !victim.exists(),
        "root wrote the fetched [metrics] textfile"
    );
}

#[test]
fn an_inventory_field_with_a_line_break_is_refused_wherever_it_comes_from() {
    let burnt = burnt_host();
    let b = burnt.new_host();
    let conf_before = fs::read(b.home.join("girofle.conf")).unwrap();
    // A quoted line break in backup_schedule: a second cron line, run as root.
    burnt.edit("inventory.girofle", |text| {
        assert!(text.contains(",0 */4 * * *,"), "{text}");
        text.replace(
            ",0 */4 * * *,",
            ",\"0 */4 * * *\n* * * * * root touch /tmp/girofle-pwned\",",
        )
    });
    burnt.rehash();
    burnt.sign();
    let run = burnt.restore_all(&b, &[]).expect_code(1);
    assert!(
        run.stderr.contains("line 2")
            && run.stderr.contains("backup_schedule")
            && run.stderr.contains("control character")
            && run.stderr.contains("nothing was changed"),
        "{}",
        run.stderr
    );
    nothing_written(&b, &conf_before);

    // The same row in this host's own inventory: named by its line, refused.
    fs::copy(burnt.state.join("inventory.girofle"), b.inventory()).unwrap();
    let run = b.run("girofle-list", &[]).expect_code(1);
    assert!(
        run.stderr.contains("inventory.girofle line 2") && run.stderr.contains("backup_schedule"),
        "{}",
        run.stderr
    );
    let _ = &burnt.a;
}
