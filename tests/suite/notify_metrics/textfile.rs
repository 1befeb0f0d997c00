//! The Prometheus textfile, read by a real parser.

use super::*;

/// The families of a textfile as the Python Prometheus client's parser reads
/// them: `{name: {"type", "help", "samples": [[name, {labels}, value], …]}}`.
fn parsed_by_prometheus_client(textfile: &Path) -> Value {
    let script = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
families = {}
for family in text_string_to_metric_families(open(sys.argv[1]).read()):
    if family.name in families:
        sys.exit("family %s appears twice" % family.name)
    families[family.name] = {
        "type": family.type,
        "help": family.documentation,
        "samples": [[s.name, s.labels, s.value] for s in family.samples],
    }
print(json.dumps(families))
"#;
    let output = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(script)
        .arg(textfile)
        .output()
        .expect("python3 runs (the test command installs it with prometheus-client)");
    assert!(
        output.status.success(),
        "the Prometheus parser refused {}:\n{}\n{}",
        textfile.display(),
        String::from_utf8_lossy(&output.stderr),
        std::fs::read_to_string(textfile).unwrap_or_default()
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The value of `metric` whose labels include `labels`.
fn value(families: &Value, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    families[metric]["samples"]
        .as_array()?
        .iter()
        .find(|sample| {
            labels
                .iter()
                .all(|(key, wanted)| sample[1][key].as_str() == Some(wanted))
        })
        .and_then(|sample| sample[2].as_f64())
}

fn docs() -> InstanceLabels {
    InstanceLabels {
        number: 3,
        name: "docs".into(),
        container: "girofle-gitlab-3-docs".into(),
    }
}

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

fn backup(instance: InstanceLabels, ok: bool, ended: u64) -> BackupFigures {
    BackupFigures {
        instance,
        ok,
        ended: at(ended),
        duration: Duration::from_millis(61_250),
        stop_window: Duration::from_millis(4_500),
        bytes_copied: 1_234_567,
        bytes_hardlinked: 9_876_543_210,
        files_copied: 12,
        files_hardlinked: 34_567,
        backups_kept: Some(5),
    }
}

const DOCS: &[(&str, &str)] = &[
    ("instance", "3"),
    ("name", "docs"),
    ("container", "girofle-gitlab-3-docs"),
];

#[test]
fn the_textfile_is_read_by_a_real_prometheus_parser_with_the_expected_values() {
    let world = World::with(|dir| {
        format!(
            "[metrics]\ntextfile = {}\n",
            toml_string(&dir.join("node-exporter/girofle.prom"))
        )
    });
    let textfile = world.dir.join("node-exporter/girofle.prom");
    std::fs::create_dir(textfile.parent().unwrap()).unwrap();

    // What a backup, then a drill, then two shippings, then a failed backup leave.
    assert!(
        metrics::record(&world.home, &world.conf, |m| m.backup(&backup(
            docs(),
            true,
            1_795_000_000
        )))
        .is_none()
    );
    metrics::record_drill(&textfile, &docs(), true, at(1_795_000_500)).unwrap();
    metrics::record_shipping(&textfile, "off-site", true, at(1_795_000_100)).unwrap();
    metrics::record_shipping(&textfile, "same-site", false, at(1_795_000_200)).unwrap();
    let other = InstanceLabels {
        number: 10,
        name: String::new(),
        container: "girofle-gitlab-10".into(),
    };
    metrics::record_backup(&textfile, &backup(other, false, 1_795_000_300)).unwrap();

    let families = parsed_by_prometheus_client(&textfile);
    for (name, family) in families.as_object().unwrap() {
        assert_eq!(family["type"], "gauge", "{name}");
        assert!(!family["help"].as_str().unwrap().is_empty(), "{name}");
    }
    let of_docs = |metric: &str| value(&families, metric, DOCS);
    assert_eq!(
        of_docs("girofle_backup_last_success_timestamp_seconds"),
        Some(1_795_000_000.0)
    );
    assert_eq!(
        of_docs("girofle_backup_last_attempt_timestamp_seconds"),
        Some(1_795_000_000.0)
    );
    assert_eq!(of_docs("girofle_backup_last_result"), Some(1.0));
    assert_eq!(of_docs("girofle_backup_duration_seconds"), Some(61.25));
    assert_eq!(of_docs("girofle_backup_stop_window_seconds"), Some(4.5));
    assert_eq!(of_docs("girofle_backup_bytes_copied"), Some(1_234_567.0));
    assert_eq!(
        of_docs("girofle_backup_bytes_hardlinked"),
        Some(9_876_543_210.0)
    );
    assert_eq!(of_docs("girofle_backup_files_copied"), Some(12.0));
    assert_eq!(of_docs("girofle_backup_files_hardlinked"), Some(34_567.0));
    assert_eq!(of_docs("girofle_backups_kept"), Some(5.0));
    assert_eq!(of_docs("girofle_drill_last_result"), Some(1.0));
    assert_eq!(
        of_docs("girofle_drill_last_timestamp_seconds"),
        Some(1_795_000_500.0)
    );

    // The failed backup of instance 10: an attempt, a 0, and no success.
    let ten = &[
        ("instance", "10"),
        ("name", ""),
        ("container", "girofle-gitlab-10"),
    ];
    assert_eq!(
        value(&families, "girofle_backup_last_result", ten),
        Some(0.0)
    );
    assert_eq!(
        value(
            &families,
            "girofle_backup_last_attempt_timestamp_seconds",
            ten
        ),
        Some(1_795_000_300.0)
    );
    assert_eq!(
        value(
            &families,
            "girofle_backup_last_success_timestamp_seconds",
            ten
        ),
        None
    );

    let target = |name: &str, metric: &str| value(&families, metric, &[("target", name)]);
    assert_eq!(
        target("off-site", "girofle_target_last_success_timestamp_seconds"),
        Some(1_795_000_100.0)
    );
    assert_eq!(target("off-site", "girofle_target_last_result"), Some(1.0));
    assert_eq!(target("same-site", "girofle_target_last_result"), Some(0.0));
    assert_eq!(
        target("same-site", "girofle_target_last_success_timestamp_seconds"),
        None
    );

    // A failed drill later: the backup series stay, the drill's change.
    metrics::record_drill(&textfile, &docs(), false, at(1_795_100_000)).unwrap();
    let families = parsed_by_prometheus_client(&textfile);
    assert_eq!(
        value(&families, "girofle_drill_last_result", DOCS),
        Some(0.0)
    );
    assert_eq!(
        value(&families, "girofle_backup_bytes_copied", DOCS),
        Some(1_234_567.0)
    );

    // Decommissioned: its series go, the others stay.
    metrics::forget_instance(&textfile, 3).unwrap();
    let families = parsed_by_prometheus_client(&textfile);
    assert_eq!(value(&families, "girofle_backup_last_result", DOCS), None);
    assert_eq!(
        value(&families, "girofle_backup_last_result", ten),
        Some(0.0)
    );

    // Readable by node-exporter's user; nothing but the file and its lock left.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&textfile).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644);
    let mut names: Vec<String> = std::fs::read_dir(textfile.parent().unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["girofle.prom", "girofle.prom.lock"]);
}

#[test]
fn labels_with_quotes_backslashes_and_newlines_survive_the_parser() {
    let world = World::new("");
    let textfile = world.dir.join("girofle.prom");
    let odd = InstanceLabels {
        number: 7,
        name: "l'équipe \"doc\" \\ deux\nlignes".into(),
        container: "girofle-gitlab-7-x".into(),
    };
    metrics::record_backup(&textfile, &backup(odd.clone(), true, 1_795_000_000)).unwrap();
    // Read back and rewritten by a second update: the labels must survive that too.
    metrics::record_shipping(&textfile, "off \"site\"", true, at(1_795_000_001)).unwrap();
    let families = parsed_by_prometheus_client(&textfile);
    let samples = families["girofle_backup_last_result"]["samples"]
        .as_array()
        .unwrap();
    assert_eq!(samples.len(), 1);
    assert_eq!(samples[0][1]["name"], odd.name.as_str());
    assert_eq!(
        value(
            &families,
            "girofle_target_last_result",
            &[("target", "off \"site\"")]
        ),
        Some(1.0)
    );
}

#[test]
fn concurrent_updates_from_several_processes_lose_nothing() {
    // Threads take the lock through their own open file descriptions, so
    // they exclude each other as separate processes would.
    let world = World::new("");
    let textfile = world.dir.join("girofle.prom");
    let threads: Vec<_> = (1..=8u32)
        .map(|number| {
            let textfile = textfile.clone();
            std::thread::spawn(move || {
                for round in 0..10u64 {
                    let labels = InstanceLabels {
                        number,
                        name: format!("n{number}"),
                        container: format!("girofle-gitlab-{number}"),
                    };
                    metrics::record_backup(&textfile, &backup(labels, true, 1_795_000_000 + round))
                        .unwrap();
                    metrics::record_shipping(
                        &textfile,
                        &format!("t{number}"),
                        true,
                        at(1_795_000_000 + round),
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let families = parsed_by_prometheus_client(&textfile);
    for number in 1..=8u32 {
        let n = number.to_string();
        assert_eq!(
            value(
                &families,
                "girofle_backup_last_success_timestamp_seconds",
                &[("instance", n.as_str())]
            ),
            Some(1_795_000_009.0),
            "instance {number}"
        );
        assert_eq!(
            value(
                &families,
                "girofle_target_last_success_timestamp_seconds",
                &[("target", format!("t{number}").as_str())]
            ),
            Some(1_795_000_009.0)
        );
    }
}

#[test]
fn a_textfile_in_a_missing_directory_is_a_warning_in_the_log() {
    let world = World::with(|dir| {
        format!(
            "[metrics]\ntextfile = {}\n",
            toml_string(&dir.join("no-such-dir/girofle.prom"))
        )
    });
    let warning = metrics::record(&world.home, &world.conf, |m| {
        m.drill(&docs(), true, at(1_795_000_000))
    })
    .expect("a warning");
    assert!(warning.contains("no-such-dir"), "{warning}");
    assert!(
        world.log().contains("could not update the metrics"),
        "{}",
        world.log()
    );
}
