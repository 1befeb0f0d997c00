use super::conflicts::plain_host;
use super::*;
use crate::error::Exit;

fn args(words: &[&str]) -> std::result::Result<Args, clap::Error> {
    crate::ops::args::parse("girofle-restore", words)
}

#[test]
fn all_takes_its_own_options_and_no_container() {
    let all = args(&[
        "--all",
        "--from",
        "off-site",
        "--source",
        "host-a",
        "--backup-state",
        "2026-01-01T00-00-00Z",
        "--ip",
        "127.0.0.1",
    ])
    .unwrap();
    assert!(all.all);
    assert_eq!(all.source.as_deref(), Some("host-a"));
    for refused in [
        &["--all", "c", "d"][..],
        &["--backup-state", "2026-01-01T00-00-00Z"][..],
        &["--ip", "127.0.0.1"][..],
        &["--all", "--backup", "2026-01-01T00-00-00Z"][..],
    ] {
        assert!(args(refused).is_err(), "{refused:?}");
    }
    assert!(plain_host("host-a").is_ok());
    for bad in ["", "a/b", "..", "."] {
        assert!(plain_host(bad).is_err(), "{bad}");
    }
}

#[test]
fn the_exit_code_says_whether_some_failed() {
    let instance = |verdict| InstanceResult {
        number: 1,
        name: String::new(),
        container: "c".into(),
        url: "http://h:1".into(),
        verdict,
    };
    let mut outcome = AllOutcome {
        state: None,
        instances: vec![instance(Verdict::LeftAlone)],
        warnings: Vec::new(),
    };
    assert_eq!(outcome.exit(), Exit::Done);
    outcome
        .instances
        .push(instance(Verdict::Failed("no".into())));
    assert_eq!(outcome.exit(), Exit::Failed);
    outcome.state = Some("2026-01-01T00-00-00Z".into());
    assert_eq!(outcome.exit(), Exit::Partial);
}
