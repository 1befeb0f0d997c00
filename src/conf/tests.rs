//! The tests of `girofle.conf`'s parsing.

use super::EventOutcome as Outcome;
use super::*;

#[test]
fn the_documented_example_parses() {
    let conf = Conf::parse(
        "[girofle]\nhost = \"gitlab-host-1\"\n\n[retention]\nkeep_last = 12\n\n[targets.same-site]\n\
         url = \"girofle@10.0.0.5:/srv/girofle\"\nport = 22\nidentity = \"/root/.ssh/girofle_ed25519\"\n\
         known_hosts = \"/girofle/known_hosts\"\nkeep_last = 42\n\n[targets.off-site]\nurl = \"/mnt/offsite/girofle\"\n",
    )
    .unwrap();
    assert_eq!(conf.keep_last(), 12);
    assert_eq!(conf.targets.len(), 2);
    assert!(conf.notify.is_none());
    assert!(conf.metrics.is_none());
}

#[test]
fn the_documented_notify_and_metrics_sections_parse() {
    let conf = Conf::parse(
        "[notify]                              # optional: alerts\n\
         url = \"http://127.0.0.1:9000/hook\"    # POST of a JSON event\n\
         command = [\"/usr/local/bin/page-me\"]  # or run, the JSON event on stdin\n\
         on = [\"failure\"]                      # \"success\" too, if wanted\n\n\
         [metrics]                             # optional: Prometheus textfile collector\n\
         textfile = \"/var/lib/prometheus/node-exporter/girofle.prom\"\n",
    )
    .unwrap();
    let notify = conf.notify.unwrap();
    assert_eq!(notify.url.unwrap().as_str(), "http://127.0.0.1:9000/hook");
    let command = notify.command.unwrap();
    assert_eq!(command.program(), "/usr/local/bin/page-me");
    assert!(command.args().is_empty());
    assert_eq!(notify.on, vec![Outcome::Failure]);
    assert_eq!(notify.timeout, DEFAULT_NOTIFY_TIMEOUT);
    assert_eq!(
        conf.metrics.unwrap().textfile,
        PathBuf::from("/var/lib/prometheus/node-exporter/girofle.prom")
    );
}

#[test]
fn notify_defaults_to_failures_only_and_takes_success_and_a_timeout() {
    let conf = Conf::parse("[notify]\ncommand = [\"sh\", \"-c\", \"cat\"]\n").unwrap();
    let notify = conf.notify.unwrap();
    assert_eq!(notify.on, vec![Outcome::Failure]);
    assert!(notify.url.is_none());
    assert_eq!(notify.command.unwrap().args(), ["-c", "cat"]);

    let conf = Conf::parse(
        "[notify]\nurl = \"http://hooks.example.org:8080/girofle?x=1\"\n\
         on = [\"success\", \"failure\"]\ntimeout_secs = 2\n",
    )
    .unwrap();
    let notify = conf.notify.unwrap();
    assert_eq!(notify.on, vec![Outcome::Success, Outcome::Failure]);
    assert_eq!(notify.timeout, Duration::from_secs(2));
    assert!(notify.command.is_none());

    // An empty list is a way to silence notifications without deleting them.
    let conf = Conf::parse("[notify]\nurl = \"http://h/\"\non = []\n").unwrap();
    assert!(conf.notify.unwrap().on.is_empty());
}

/// Parses `text`, expects a refusal on `line` that mentions `words`.
fn refused(text: &str, line: usize, words: &str) {
    let error = Conf::parse(text).unwrap_err();
    assert!(
        error.starts_with(&format!("line {line}:")),
        "{text:?} gave {error:?}, not on line {line}"
    );
    assert!(
        error.contains(words),
        "{text:?} gave {error:?}, without {words:?}"
    );
}

#[test]
fn bad_notify_sections_are_refused_with_their_line() {
    refused(
        "[notify]\nurl = \"http://h/\"\nurll = \"http://h/\"\n",
        3,
        "unknown field `urll`",
    );
    refused(
        "[notify]\n\nurl = \"ftp://h/\"\n",
        3,
        "must start with http://",
    );
    refused(
        "[notify]\nurl = \"h:9000/hook\"\n",
        2,
        "must start with http://",
    );
    refused("[notify]\nurl = \"http://bad host/\"\n", 2, "not a URL");
    refused(
        "[notify]\nurl = \"https://h/\"\n",
        2,
        "https is not built in",
    );
    refused("[notify]\nurl = \"http:///hook\"\n", 2, "url");
    refused("[notify]\nurl = 9000\n", 2, "string");
    refused("[notify]\ncommand = []\n", 2, "needs at least the program");
    refused("[notify]\ncommand = [\"\", \"x\"]\n", 2, "empty");
    refused("[notify]\ncommand = \"page-me --now\"\n", 2, "sequence");
    refused(
        "[notify]\nurl = \"http://h/\"\non = [\"failure\", \"sucess\"]\n",
        3,
        "unknown variant `sucess`",
    );
    refused(
        "[notify]\nurl = \"http://h/\"\ntimeout_secs = 0\n",
        1,
        "timeout_secs = 0",
    );
    refused(
        "[notify]\nurl = \"http://h/\"\ntimeout_secs = 3600\n",
        1,
        "between 1 and 60",
    );
    refused(
        "[retention]\nkeep_last = 3\n[notify]\non = [\"failure\"]\n",
        3,
        "`url` or `command`",
    );
}

#[test]
fn bad_metrics_sections_are_refused_with_their_line() {
    refused(
        "[metrics]\ntextfile = \"/var/lib/node-exporter/girofle.prom\"\ninterval = 5\n",
        3,
        "unknown field `interval`",
    );
    refused("[metrics]\ntextfile = \"girofle.prom\"\n", 2, "absolute");
    refused(
        "[metrics]\ntextfile = \"/var/lib/node-exporter/girofle.txt\"\n",
        2,
        ".prom",
    );
    refused(
        "[metrics]\ntextfile = \"/var/lib/node-exporter/\"\n",
        2,
        ".prom",
    );
    refused(
        "[metrics]\ntextfile = \"/var/lib/node-exporter/.prom\"\n",
        2,
        ".prom",
    );
    refused("[metrics]\n", 1, "missing field `textfile`");
}

#[test]
fn target_hosts_that_ssh_would_read_as_options_are_refused() {
    refused(
        "[targets.x]\nurl = \"-oProxyCommand=sh -c id:/srv\"\n",
        2,
        "starts with `-`",
    );
    refused(
        "[targets.x]\nurl = \"girofle@-oProxyCommand=id:/srv\"\n",
        2,
        "starts with `-`",
    );
    refused(
        "[targets.x]\nurl = \"girofle@host name:/srv\"\n",
        2,
        "white space",
    );
    refused("[targets.x]\nurl = \"/mnt/a\\nb\"\n", 2, "control");
    assert!(Conf::parse("[targets.x]\nurl = \"girofle@10.0.0.5:/srv/a b\"\n").is_ok());
}

#[test]
fn unknown_keys_and_bad_values_name_their_line() {
    let error = Conf::parse("[retention]\nkeep_last = 3\nkeep_lats = 4\n").unwrap_err();
    assert!(error.starts_with("line 3:"), "{error}");
    let error = Conf::parse("[retention]\n\nkeep_last = 0\n").unwrap_err();
    assert!(error.starts_with("line 3:"), "{error}");
}

#[test]
fn restic_targets_parse_and_rsync_ones_are_unchanged() {
    let conf = Conf::parse(
        "[targets.vault]\nkind = \"restic\"\nurl = \"rest:http://10.0.0.9:8000/girofle/\"\n\
         password_file = \"/root/.girofle-vault\"\nappend_only = true\nkeep_last = 30\n\
         keep_daily = 7\nkeep_weekly = 5\nkeep_monthly = 12\n\
         [targets.local-vault]\nkind = \"restic\"\nurl = \"/srv/restic\"\npassword_file = \"/root/p\"\n\
         [targets.sftp-vault]\nkind = \"restic\"\nurl = \"sftp:girofle@10.0.0.5:/srv/restic\"\n\
         password_file = \"/root/p\"\n\
         [targets.same-site]\nurl = \"girofle@10.0.0.5:/srv/girofle\"\n",
    )
    .unwrap();
    let vault = &conf.targets["vault"];
    assert_eq!(vault.kind, TargetKind::Restic);
    assert!(vault.append_only);
    assert_eq!(vault.keep_daily.map(NonZeroU32::get), Some(7));
    assert_eq!(vault.keep_weekly.map(NonZeroU32::get), Some(5));
    assert_eq!(vault.keep_monthly.map(NonZeroU32::get), Some(12));
    assert_eq!(
        vault.password_file.as_deref(),
        Some(std::path::Path::new("/root/.girofle-vault"))
    );
    assert!(!conf.targets["local-vault"].append_only);
    assert_eq!(conf.targets["sftp-vault"].kind, TargetKind::Restic);
    let same_site = &conf.targets["same-site"];
    assert_eq!(same_site.kind, TargetKind::Rsync);
    assert_eq!(same_site.password_file, None);
}

#[test]
fn bad_restic_targets_are_refused_with_their_section() {
    let restic = "[retention]\nkeep_last = 3\n[targets.vault]\nkind = \"restic\"\n";
    refused(
        &format!("{restic}url = \"/srv/restic\"\n"),
        3,
        "needs `password_file`",
    );
    refused(
        &format!("{restic}url = \"/srv/restic\"\npassword_file = \"secret\"\n"),
        3,
        "not an absolute path",
    );
    refused(
        &format!("{restic}url = \"srv/restic\"\npassword_file = \"/root/p\"\n"),
        3,
        "not a restic repository",
    );
    refused(
        &format!("{restic}url = \"ftp://h/\"\npassword_file = \"/root/p\"\n"),
        3,
        "not a restic repository",
    );
    refused(
        &format!("{restic}url = \"/srv/restic\"\npassword_file = \"/root/p\"\nport = 22\n"),
        3,
        "`port` is for rsync targets only",
    );
    refused(
        &format!("{restic}url = \"/srv/restic\"\npassword_file = \"/root/p\"\nappend_only = 1\n"),
        7,
        "bool",
    );
    refused(
        "[targets.vault]\nkind = \"borg\"\nurl = \"/srv/b\"\n",
        2,
        "unknown variant `borg`",
    );
    refused(
        "[targets.off-site]\nurl = \"/mnt/offsite\"\npassword_file = \"/root/p\"\n",
        1,
        "`password_file` is for restic targets only",
    );
    refused(
        "[targets.off-site]\nurl = \"/mnt/offsite\"\nappend_only = true\n",
        1,
        "`append_only` is for restic targets only",
    );
    for bad in ["0%", "101%", "five", "2/1", "0/3", "5"] {
        refused(
            &format!(
                "{restic}url = \"/srv/restic\"\npassword_file = \"/root/p\"\n\
                 check_read_data_subset = \"{bad}\"\n"
            ),
            3,
            "check_read_data_subset",
        );
    }
    for good in ["5%", "0.5%", "100%", "1/7", "7/7"] {
        let text = format!(
            "{restic}url = \"/srv/restic\"\npassword_file = \"/root/p\"\n\
             check_read_data_subset = \"{good}\"\n"
        );
        let conf = Conf::parse(&text).unwrap_or_else(|e| panic!("{good}: {e}"));
        assert_eq!(
            conf.targets["vault"].check_read_data_subset.as_deref(),
            Some(good)
        );
    }
    refused(
        "[targets.off-site]\nurl = \"/mnt/offsite\"\ncheck_read_data_subset = \"5%\"\n",
        1,
        "`check_read_data_subset` is for restic targets only",
    );
    refused(
        "[targets.off-site]\nurl = \"/mnt/offsite\"\nkeep_daily = 0\n",
        3,
        "nonzero",
    );
}
