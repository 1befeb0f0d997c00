use super::*;

#[test]
fn a_state_key_authenticates_its_manifest_and_nothing_else() {
    let temp = tempfile::tempdir().unwrap();
    let path = temp.path().join(STATE_KEY_FILE);
    let key = StateKey::generate().unwrap();
    assert!(key.install_new(&path).unwrap());
    // Never replaced: a second key does not take the first one's place.
    assert!(!StateKey::generate().unwrap().install_new(&path).unwrap());
    let read = StateKey::read(&path).unwrap();
    assert_eq!(read, key);
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&fs::metadata(&path).unwrap().permissions())
            & 0o777,
        0o600
    );
    let mac = key.mac_line(b"manifest");
    assert!(key.verifies(b"manifest", &mac));
    assert!(!key.verifies(b"manifest!", &mac));
    assert!(!StateKey::generate().unwrap().verifies(b"manifest", &mac));
    assert!(!key.verifies(b"manifest", "blake3-keyed 00"));
    assert!(StateKey::parse(&key.to_hex()).is_ok());
    assert!(StateKey::parse("abc").is_err());
    fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    assert!(StateKey::read(&path).is_err());
}

#[test]
fn a_home_that_is_a_link_is_judged_by_the_directory_it_names() {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let temp = tempfile::tempdir().unwrap();
    let real = temp.path().join("srv-girofle");
    std::fs::create_dir(&real).unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o750)).unwrap();
    let link = temp.path().join("girofle");
    symlink(&real, &link).unwrap();
    let through_link = Home::resolve(Some(&link)).owner_and_mode();
    let direct = Home::resolve(Some(&real)).owner_and_mode();
    if nix::unistd::Uid::effective().is_root() {
        // A link root owns: its target's owner and mode, not the link's 0777.
        assert_eq!(through_link, direct);
        assert_eq!(through_link.map(|(_, mode)| mode & 0o777), Some(0o750));
    } else {
        // Anyone else's link is judged as a link: never root's.
        assert_ne!(through_link.map(|(uid, _)| uid), Some(0));
    }
    assert_eq!(
        Home::resolve(Some(&temp.path().join("none"))).owner_and_mode(),
        None
    );
}

#[test]
fn backup_ids_of_both_forms_sort_by_time() {
    let mut ids: Vec<BackupId> = [
        "2026-11-25T14-30-00Z",
        "24-12-2025-time-09h-05m-00s",
        "2026-01-02T00-00-00Z",
    ]
    .iter()
    .map(|name| BackupId::parse(name).unwrap())
    .collect();
    ids.sort();
    let names: Vec<&str> = ids.iter().map(BackupId::as_str).collect();
    assert_eq!(
        names,
        [
            "24-12-2025-time-09h-05m-00s",
            "2026-01-02T00-00-00Z",
            "2026-11-25T14-30-00Z"
        ]
    );
}

#[test]
fn ids_order_by_each_field_in_turn() {
    let ordered = [
        "2025-12-31T23-59-59Z",
        "01-01-2026-time-00h-00m-00s",
        "2026-01-01T00-00-01Z",
        "2026-01-01T00-01-00Z",
        "2026-01-01T01-00-00Z",
        "2026-01-02T00-00-00Z",
        "2026-02-01T00-00-00Z",
        "2027-01-01T00-00-00Z",
    ];
    let ids: Vec<BackupId> = ordered
        .iter()
        .map(|name| BackupId::parse(name).unwrap())
        .collect();
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "{ids:?}");
    assert_eq!(ids[1].as_str(), "01-01-2026-time-00h-00m-00s");
    assert_eq!(ids[1].to_string(), ids[1].as_str());
}

#[test]
fn a_symbolic_link_in_place_of_an_instance_directory_is_refused() {
    let temp = tempfile::tempdir().unwrap();
    let home = Home::resolve(Some(temp.path()));
    std::os::unix::fs::symlink("/etc", temp.path().join("noeud-gitlab-1")).unwrap();
    let message = home
        .check_instance_dir(1, &temp.path().join("noeud-gitlab-1"))
        .unwrap_err();
    assert!(message.contains("symbolic link"), "{message}");
}

#[test]
fn partial_and_foreign_names_are_not_backups() {
    for name in [
        ".partial-2026-11-25T14-30-00Z",
        "latest",
        "2026-11-25T14-30-00",
        "2026-11-25 14-30-00Z",
        "2026-1-25T14-30-00Z",
        "2026-11-25T14-30-0xZ",
        "25-11-2026-time-14h-30m-00",
        "25-11-2026-heure-14h-30m-00s",
        "25-11-26-time-14h-30m-00s",
        "",
    ] {
        assert_eq!(BackupId::parse(name), None, "{name}");
    }
}
