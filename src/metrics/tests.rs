use super::*;

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

fn good_backup(instance: InstanceLabels, ended: u64) -> BackupFigures {
    BackupFigures {
        instance,
        ok: true,
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

#[test]
fn a_good_backup_then_a_failed_one() {
    let mut metrics = Metrics::default();
    metrics.backup(&good_backup(docs(), 1_795_000_000));
    let text = metrics.render();
    assert!(text.contains(
        "# TYPE girofle_backup_last_success_timestamp_seconds gauge\n\
             girofle_backup_last_success_timestamp_seconds{instance=\"3\",name=\"docs\",\
             container=\"girofle-gitlab-3-docs\"} 1795000000\n"
    ));
    assert!(text.contains(
        "girofle_backup_duration_seconds{instance=\"3\",name=\"docs\",\
             container=\"girofle-gitlab-3-docs\"} 61.25\n"
    ));
    assert!(text.contains("} 9876543210\n"));
    assert!(!text.contains("drill"), "no drill yet:\n{text}");

    let mut failed = good_backup(docs(), 1_795_014_400);
    failed.ok = false;
    failed.bytes_copied = 0;
    metrics.backup(&failed);
    assert_eq!(metrics.instance_value(3, BACKUP_LAST_RESULT), Some(0.0));
    assert_eq!(
        metrics.instance_value(3, BACKUP_LAST_ATTEMPT),
        Some(1_795_014_400.0)
    );
    assert_eq!(
        metrics.instance_value(3, BACKUP_LAST_SUCCESS),
        Some(1_795_000_000.0)
    );
    assert_eq!(
        metrics.instance_value(3, BACKUP_BYTES_COPIED),
        Some(1_234_567.0)
    );
}

#[test]
fn what_is_rendered_parses_back_the_same() {
    let mut metrics = Metrics::default();
    metrics.backup(&good_backup(docs(), 1_795_000_000));
    let odd = InstanceLabels {
        number: 12,
        name: "a \"quoted\" \\ name\nwith a newline".into(),
        container: "girofle-gitlab-12".into(),
    };
    metrics.drill(&odd, false, at(1_795_000_100));
    metrics.shipping("off-site", true, at(1_795_000_200));
    metrics.shipping("same-site", false, at(1_795_000_300));
    let text = metrics.render();
    assert_eq!(Metrics::parse(&text), metrics, "{text}");
    assert_eq!(Metrics::parse(&text).render(), text);
    assert_eq!(
        metrics.target_value("same-site", TARGET_LAST_SUCCESS),
        None,
        "a failed shipping is no success"
    );
}

#[test]
fn instances_sort_by_number_and_can_be_forgotten() {
    let mut metrics = Metrics::default();
    for number in [10, 2, 1] {
        let labels = InstanceLabels {
            number,
            name: String::new(),
            container: format!("girofle-gitlab-{number}"),
        };
        metrics.backup(&good_backup(labels, 1_795_000_000));
    }
    let text = metrics.render();
    let order: Vec<usize> = ["\"1\"", "\"2\"", "\"10\""]
        .iter()
        .map(|n| text.find(&format!("instance={n}")).unwrap())
        .collect();
    assert!(order[0] < order[1] && order[1] < order[2], "{text}");
    metrics.forget_instance(2);
    assert!(!metrics.render().contains("instance=\"2\""));
    assert!(metrics.render().contains("instance=\"10\""));
}

#[test]
fn unknown_and_malformed_lines_are_left_out() {
    let text = "# a comment\n\
                    girofle_backup_last_result{instance=\"3\",name=\"\",container=\"c\"} 1\n\
                    girofle_removed_metric{instance=\"3\"} 7\n\
                    girofle_backup_last_result{instance=\"x\",name=\"\",container=\"c\"} 1\n\
                    girofle_backup_last_result{instance=\"4\",name=\"\",container=\"c\"} one\n\
                    girofle_backup_last_result{instance=\"5\",name=\"unterminated} 1\n\
                    girofle_target_last_result{instance=\"3\"} 1\n";
    let metrics = Metrics::parse(text);
    assert_eq!(metrics.instance_value(3, BACKUP_LAST_RESULT), Some(1.0));
    let rendered = metrics.render();
    assert_eq!(rendered.lines().filter(|l| !l.starts_with('#')).count(), 1);
    assert!(!rendered.contains("removed"));
}

#[test]
fn values_are_written_as_the_format_wants() {
    assert_eq!(format_value(1_795_000_000.0), "1795000000");
    assert_eq!(format_value(0.25), "0.25");
    assert_eq!(format_value(f64::NAN), "NaN");
    assert_eq!(format_value(f64::INFINITY), "+Inf");
    assert_eq!(format_value(9_876_543_210.0), "9876543210");
}
