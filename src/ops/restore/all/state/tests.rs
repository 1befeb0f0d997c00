use super::*;

#[test]
fn cron_files_are_read_back_as_written() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join("girofle-gitlab-3");
    let command: Vec<String> = [
        "/usr/local/bin/girofle-backup",
        "--home",
        "/srv/it's 100%",
        "3",
    ]
    .map(String::from)
    .to_vec();
    let home = Home::resolve(Some(std::path::Path::new("/srv/it's 100%")));
    cron::write_file(
        &home,
        &path,
        "backups of GitLab instance 3.",
        "0 */4 * * *",
        &command,
    )
    .unwrap();
    let parsed = parse_cron_file(&fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        parsed,
        CronFile {
            comment: "backups of GitLab instance 3.".into(),
            schedule: "0 */4 * * *".into(),
            words: command,
        }
    );
    let nickname = parse_cron_file("@daily root /x --home /h --state\n").unwrap();
    assert_eq!(nickname.schedule, "@daily");
    assert_eq!(nickname.words, ["/x", "--home", "/h", "--state"]);
    assert!(parse_cron_file("0 * * * * nobody /x --home /h 1\n").is_none());
    assert!(parse_cron_file("0 * * * * root '/x\n").is_none());
}

fn fetched(text: &str, from: Option<&str>) -> State {
    State {
        id: "2026-01-01T00-00-00Z".into(),
        dir: PathBuf::new(),
        home: PathBuf::from("/girofle"),
        rows: Vec::new(),
        counter: 0,
        conf: Some((text.as_bytes().to_vec(), Conf::parse(text).unwrap())),
        schedules: Schedules::default(),
        new_key: None,
        fetched_from: from.map(String::from),
    }
}

#[test]
fn settings_that_run_or_send_wait_for_yes_when_fetched() {
    let here = Conf::parse("[targets.off-site]\nurl = \"/mnt/off\"\n").unwrap();
    let text = "# A's settings\n[girofle]\nhost = \"host-a\"\n\n[targets.off-site]\nurl = \"/mnt/off\"\n\n\
                    [targets.elsewhere]\nurl = \"/srv/x\"\n\n[notify]\ncommand = [\"/bin/page-me\"]\n\n\
                    [metrics]\ntextfile = \"/var/lib/n/g.prom\"\n";
    let plan = plan_conf(&fetched(text, Some("t")), &here, false)
        .unwrap()
        .unwrap();
    let kept = String::from_utf8(plan.text).unwrap();
    assert!(
        kept.contains("# A's settings") && kept.contains("host = \"host-a\""),
        "{kept}"
    );
    assert!(kept.contains("[targets.off-site]"), "{kept}");
    for gone in ["elsewhere", "[notify]", "[metrics]"] {
        assert!(!kept.contains(gone), "{gone}: {kept}");
    }
    assert_eq!(plan.set_aside.as_deref(), Some(text.as_bytes()));
    assert_eq!(plan.shown.len(), 3, "{:?}", plan.shown);
    assert!(plan.shown[0].contains("/bin/page-me"), "{:?}", plan.shown);

    // With --yes: as fetched, and shown.
    let plan = plan_conf(&fetched(text, Some("t")), &here, true)
        .unwrap()
        .unwrap();
    assert_eq!(plan.text, text.as_bytes());
    assert!(plan.set_aside.is_none());
    assert_eq!(plan.shown.len(), 3);

    // This host's own state backup, or nothing new: as it is.
    let plan = plan_conf(&fetched(text, None), &here, false)
        .unwrap()
        .unwrap();
    assert_eq!(plan.text, text.as_bytes());
    assert!(plan.shown.is_empty() && plan.set_aside.is_none());
    let same = "[targets.off-site]\nurl = \"/mnt/off\"\n";
    let plan = plan_conf(&fetched(same, Some("t")), &here, false)
        .unwrap()
        .unwrap();
    assert!(plan.shown.is_empty() && plan.set_aside.is_none());
}

#[test]
fn cron_file_names_lose_their_home_prefix() {
    assert_eq!(kind_of("girofle-gitlab-12").as_deref(), Some("gitlab-12"));
    assert_eq!(kind_of("gtabc-gitlab-2").as_deref(), Some("gitlab-2"));
    assert_eq!(
        kind_of("my-gitlab-site-drill-4").as_deref(),
        Some("drill-4")
    );
    assert_eq!(kind_of("girofle-state").as_deref(), Some("state"));
    assert_eq!(kind_of("something-else"), None);
}
