use super::*;

#[test]
fn yum_and_dnf_configs_get_one_marked_line_and_lose_it_again() {
    let root = tempfile::tempdir().unwrap();
    fs::create_dir_all(root.path().join("etc/dnf")).unwrap();
    let original = "[main]\ngpgcheck=1\ninstallonly_limit=3\n";
    fs::write(root.path().join("etc/dnf/dnf.conf"), original).unwrap();
    let manager = Manager::detect(root.path()).unwrap();
    assert_eq!(manager, Manager::Dnf);
    manager.verification_off(root.path()).unwrap();
    let off = fs::read_to_string(root.path().join("etc/dnf/dnf.conf")).unwrap();
    assert!(
        off.starts_with("[main]\n# girofle-ntp-fix: temporary"),
        "{off}"
    );
    assert!(off.contains("\nsslverify=false\n"));
    assert_eq!(remove_leftovers(root.path()).unwrap().len(), 1);
    assert_eq!(
        fs::read_to_string(root.path().join("etc/dnf/dnf.conf")).unwrap(),
        original
    );
}

#[test]
fn a_server_is_a_host_or_an_address_and_an_optional_port_only() {
    for good in [
        "pool.ntp.org",
        "0.pool.ntp.org:123",
        "127.0.0.1",
        "127.0.0.1:1123",
        "ntp-1.example",
        "::1",
        "[::1]:123",
    ] {
        assert_eq!(parse_server(good).as_deref(), Ok(good));
    }
    for bad in [
        "",
        "pool.ntp.org\nallow all",
        "pool.ntp.org allow",
        "host:",
        "host:0",
        "host:70000",
        "host:12a",
        "-host",
        "a..b",
        "host\"",
        "[::1]",
        "[nothost]:123",
        "h\tost",
        "host;rm",
        "host:123:4",
    ] {
        assert!(parse_server(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn servers_take_an_optional_port() {
    assert_eq!(
        server_and_port("pool.example:1123").unwrap(),
        ("pool.example".into(), 1123)
    );
    assert_eq!(
        server_and_port("0.pool.ntp.org").unwrap(),
        ("0.pool.ntp.org".into(), 123)
    );
    assert!(server_and_port("host:notaport").is_err());
}
