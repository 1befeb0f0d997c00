//! The tests of the restic adapter's own logic (tags, versions, the password file).

use super::*;

#[test]
fn folders_become_tags() {
    assert_eq!(
        folder_tags("h1/noeud-gitlab-3/bckups").unwrap(),
        ["girofle", "host=h1", "instance=noeud-gitlab-3"]
    );
    assert_eq!(
        folder_tags("h1/sauvegardes").unwrap(),
        ["girofle", "host=h1", "state"]
    );
    for bad in [
        "h1",
        "h1/x/y",
        "a,b/sauvegardes",
        "../sauvegardes",
        "h/n,1/bckups",
    ] {
        assert!(folder_tags(bad).is_err(), "{bad}");
    }
}

#[test]
fn versions_and_backup_tags_are_read() {
    assert_eq!(
        parse_version("restic 0.14.0 compiled with go1.19.8 on linux/amd64\n"),
        Some((0, 14, 0))
    );
    assert_eq!(parse_version("restic 0.17.3-dev (x)"), Some((0, 17, 3)));
    assert_eq!(parse_version("nonsense"), None);
    let snapshot = Snapshot {
        id: "6e6d09ad0f99".into(),
        tags: Some(vec!["girofle".into(), "backup=2026-01-02T03-04-05Z".into()]),
    };
    assert_eq!(
        snapshot.backup().map(|id| id.to_string()),
        Some("2026-01-02T03-04-05Z".to_string())
    );
    assert_eq!(short(&snapshot.id), "6e6d09ad");
}

#[test]
fn password_files_others_can_read_are_refused_by_name() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault-password");
    std::fs::write(&path, "correct horse battery staple\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let error = check_password_file("vault", &path).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, Error::Usage(_)));
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(!message.contains("horse"), "{message}");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let owner_ok = nix::unistd::geteuid().is_root();
    assert_eq!(check_password_file("vault", &path).is_ok(), owner_ok);
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    let refused = check_password_file("vault", &link).unwrap_err().to_string();
    assert!(refused.contains("not a plain file"), "{refused}");
    let missing = check_password_file("vault", &dir.path().join("none")).unwrap_err();
    assert!(missing.to_string().contains("none"), "{missing}");
}
