use super::*;

const LEGACY: &str = " +girofle+ INSTANCE GITLAB no. [1] + [ADRESSE_IP_SRV_GITLAB=192.168.1.32] +[NO_PORT_IP_SRV_GITLAB=80] + [REP_GIROFLE_INSTANCE_GITLAB=/girofle/noeud-gitlab-1] + [NOM_DU_CONTENEUR_CREE=conteneur-kytes.io.gitlab.1]\n";

#[test]
fn legacy_lines_become_rows() {
    let (rows, legacy) = parse(LEGACY).unwrap();
    assert!(legacy);
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row.number, 1);
    assert_eq!(row.ip, "192.168.1.32");
    assert_eq!(row.http_port, Some(80));
    assert_eq!(row.dir, PathBuf::from("/girofle/noeud-gitlab-1"));
    assert_eq!(row.container, "conteneur-kytes.io.gitlab.1");
    assert_eq!(row.https_port, None);
}

#[test]
fn csv_round_trips() {
    let (rows, _) = parse(LEGACY).unwrap();
    let text = String::from_utf8(render(&rows).unwrap()).unwrap();
    assert!(text.starts_with("number,name,container,state,"));
    let (again, legacy) = parse(&text).unwrap();
    assert!(!legacy);
    assert_eq!(again, rows);
}

#[test]
fn a_bad_csv_row_is_named_by_its_line() {
    let (rows, _) = parse(LEGACY).unwrap();
    let mut text = String::from_utf8(render(&rows).unwrap()).unwrap();
    text.push_str("two,,x,commissioned,,,,,,,,,,\n");
    let (line, problem) = parse(&text).unwrap_err();
    assert_eq!(line, 3, "{problem}");
}

#[test]
fn every_field_is_checked_with_its_line() {
    let good = Row::example(1, "docs", RowState::Commissioned);
    let text = String::from_utf8(render(std::slice::from_ref(&good)).unwrap()).unwrap();
    assert_eq!(parse(&text).unwrap().0, vec![good.clone()]);
    type Change = fn(&mut Row);
    let cases: Vec<(Change, &str)> = vec![
        (
            |r| r.backup_schedule = "0 * * * *\n* * * * * root sh /x".into(),
            "control character",
        ),
        (
            |r| r.backup_schedule = "0 * * * * ; sh /x".into(),
            "backup_schedule",
        ),
        (|r| r.hostname = "h' ; system('id') ; '".into(), "hostname"),
        (|r| r.name = "../x".into(), "name"),
        (|r| r.container = "--privileged".into(), "container"),
        (|r| r.ip = "not-an-ip".into(), "ip"),
        (|r| r.image = "--volume=/:/host".into(), "image"),
        (|r| r.http_port = Some(0), "http_port"),
        (|r| r.number = 0, "number"),
        (|r| r.note = "a\tb".into(), "control character"),
        (|r| r.tls = "acme-please".into(), "field tls"),
        (
            |r| {
                r.tls = "acme".into();
                r.acme_url = "https://ca.test/dir'; system('id') #".into();
            },
            "acme_url",
        ),
        (
            |r| {
                r.tls = "acme".into();
                r.acme_email = "a'@b.org".into();
            },
            "acme_email",
        ),
        (
            |r| r.acme_email = "ops@example.org".into(),
            "tls `acme` only",
        ),
    ];
    for (change, words) in cases {
        let mut bad = good.clone();
        change(&mut bad);
        let mut rows = vec![Row::example(2, "", RowState::Commissioned), bad];
        rows[1].number = 3;
        if words == "number" {
            rows[1].number = 0;
        }
        let text = String::from_utf8(render(&rows).unwrap()).unwrap();
        let (line, problem) = parse(&text).unwrap_err();
        assert_eq!(line, 3, "{problem}");
        assert!(problem.contains(words), "{words}: {problem}");
    }
    let legacy = LEGACY.replace("192.168.1.32", "192.168.1.32 -p 1:1");
    let (line, problem) = parse(&legacy).unwrap_err();
    assert_eq!(line, 1);
    assert!(problem.contains("field ip"), "{problem}");
}

#[test]
fn garbage_in_a_legacy_file_is_named_by_its_line() {
    let text = format!("{LEGACY}\nthis is not an inventory line\n");
    let (line, _) = parse(&text).unwrap_err();
    assert_eq!(line, 3);
}

#[test]
fn a_row_finds_its_directory_in_the_home_only() {
    use std::path::Path;
    let home = Home::resolve(Some(Path::new("/girofle")));
    let mut row = Row::example(4, "", RowState::Commissioned);
    // Whatever the row says, root works in the home's directory.
    row.dir = PathBuf::from("/srv/elsewhere/noeud-gitlab-4");
    let instance = home.instance_of(&row);
    assert_eq!(instance.root(), Path::new("/girofle/noeud-gitlab-4"));
    assert_eq!(instance.dir_name(), "noeud-gitlab-4");
    assert!(home.check_instance_dir(4, &row.dir).is_err());
    for bad in [
        "/girofle/noeud-gitlab-5",
        "/girofle/../etc/noeud-gitlab-4",
        "/girofle/noeud-gitlab-4/../../etc",
        "/girofle/./noeud-gitlab-4/x",
        "noeud-gitlab-4",
    ] {
        assert!(home.check_instance_dir(4, Path::new(bad)).is_err(), "{bad}");
    }
    // Legacy rows may record no directory: the home's is the one.
    assert!(home.check_instance_dir(4, Path::new("")).is_ok());
    assert!(
        home.check_instance_dir(4, Path::new("/girofle/noeud-gitlab-4"))
            .is_ok()
    );
}

#[test]
fn acme_urls_are_https_and_addresses_plausible() {
    for good in [
        "https://acme-v02.api.letsencrypt.org/directory",
        "https://172.17.0.1:14000/dir",
        "https://ca.internal/acme/acme/directory",
    ] {
        assert_eq!(check_acme_url(good), None, "{good}");
    }
    for (bad, problem) in [
        ("http://ca.internal/dir", "not an https:// URL"),
        ("ca.internal/dir", "not an https:// URL"),
        ("https:///dir", "no host name"),
        ("https://ca.internal/dir'", "a character"),
        ("https://ca.internal/a b", "a character"),
        ("https://ca.internal/a;b", "a character"),
    ] {
        let found = check_acme_url(bad).unwrap_or_default();
        assert!(found.contains(problem), "{bad}: {found}");
    }
    for good in ["ops@example.org", "first.last+git@mail.example.co.uk"] {
        assert_eq!(check_email(good), None, "{good}");
    }
    for bad in [
        "",
        "ops",
        "ops@",
        "@example.org",
        "ops@localhost",
        "ops@exa mple.org",
        "o'ps@example.org",
        ".ops@example.org",
        "ops@@example.org",
    ] {
        assert!(check_email(bad).is_some(), "{bad}");
    }
}

#[test]
fn an_inventory_written_before_the_acme_columns_still_reads() {
    let row = Row::example(1, "docs", RowState::Commissioned);
    let text = String::from_utf8(render(std::slice::from_ref(&row)).unwrap()).unwrap();
    let old: String = text
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            format!("{}\n", fields[..fields.len() - 2].join(","))
        })
        .collect();
    assert!(!old.contains("acme"), "{old}");
    assert_eq!(parse(&old).unwrap().0, vec![row]);
}
