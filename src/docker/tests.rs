use super::*;

#[test]
fn health_is_read_from_the_status_text() {
    assert_eq!(
        health_from_status_text("Up 3 minutes (healthy)"),
        Health::Healthy
    );
    assert_eq!(
        health_from_status_text("Up 1 second (health: starting)"),
        Health::Starting
    );
    assert_eq!(
        health_from_status_text("Up 2 hours (unhealthy)"),
        Health::Unhealthy
    );
    assert_eq!(
        health_from_status_text("Exited (0) 2 minutes ago"),
        Health::None
    );
}

#[test]
fn a_file_is_read_out_of_a_tar_stream_even_under_a_long_name() {
    for name in ["VERSION", &"long-directory-name/".repeat(12)[..]] {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(7);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, format!("{name}VERSION"), &b"17.5.1\n"[..])
            .unwrap();
        let stream = builder.into_inner().unwrap();
        assert_eq!(file_in_tar(&stream).unwrap(), b"17.5.1\n");
    }
    assert!(file_in_tar(&[0u8; 1024]).is_err());
    assert!(file_in_tar(b"short").is_err());
}

#[test]
fn run_arguments_follow_the_contract() {
    let spec = RunSpec {
        name: "girofle-gitlab-1".into(),
        hostname: "git.example.org".into(),
        labels: vec![("girofle.instance".into(), "1".into())],
        publish: vec![("127.0.0.2".into(), 8080, 8080)],
        mounts: vec![(
            PathBuf::from("/girofle/noeud-gitlab-1/mapping-volumes/data"),
            "/var/opt/gitlab".into(),
        )],
        env: vec![],
        image: "gitlab/gitlab-ce:latest".into(),
    };
    let args = spec.arguments().join(" ");
    assert!(args.contains("--restart always --shm-size 256m"), "{args}");
    assert!(args.contains("--publish 127.0.0.2:8080:8080"), "{args}");
    assert!(args.ends_with("gitlab/gitlab-ce:latest"), "{args}");
}
