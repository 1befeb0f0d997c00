//! Line 6, `--listing`: girofle-list over live containers, beside the `docker ps` it replaced.

use super::*;

/// What line 6 measured.
pub(crate) struct Listing {
    /// girofle-list's median, in ms, and the docker calls it made.
    pub(crate) ours: f64,
    pub(crate) calls: usize,
    /// `docker ps --all --format '{{json .}}'`, the query it made before
    /// issue 11 (the engine computes every container's size), median in ms.
    pub(crate) json_query: f64,
    /// `docker ps --all` with the fields girofle-list asks for, median in ms.
    pub(crate) fields_query: f64,
}

/// girofle-list over `options.rows` rows and `options.containers` live
/// containers, each of which has written `layer_files` small files into
/// its own layer (what makes the engine's size computation cost).
pub(crate) fn measure_listing(options: &Options, layer_files: usize) -> Listing {
    let list_home = options.work.join("list-home");
    fs::create_dir_all(&list_home).unwrap();
    let mut csv = String::from(
        "number,name,container,state,ip,http_port,https_port,ssh_port,hostname,image,dir,backup_schedule,created,note\n",
    );
    for number in 1..=options.rows {
        csv.push_str(&format!(
            "{number},,{}-gitlab-{number},commissioned,127.0.0.1,{},,,bench,{STANDIN},{}/noeud-gitlab-{number},0 */4 * * *,,\n",
            prefix(),
            20000 + number,
            list_home.display()
        ));
    }
    fs::write(list_home.join("inventory.girofle"), csv).unwrap();
    for number in 1..=options.containers {
        let name = format!("{}-gitlab-{number}", prefix());
        run(Command::new("docker").args([
            "run",
            "-d",
            "--name",
            &name,
            "--label",
            &format!("girofle.home={}", list_home.display()),
            STANDIN,
        ]));
        if layer_files > 0 {
            run(Command::new("docker").args([
                "exec",
                &name,
                "sh",
                "-c",
                &format!(
                    "mkdir -p /srv/layer && cd /srv/layer && i=0; while [ $i -lt {layer_files} ]; do echo $i > f$i; i=$((i+1)); done"
                ),
            ]));
        }
    }
    let shim = options.work.join("shim");
    fs::create_dir_all(&shim).unwrap();
    let real_docker = output_of(Command::new("sh").args(["-c", "command -v docker"]));
    fs::write(
        shim.join("docker"),
        format!(
            "#!/bin/sh\necho \"$*\" >> {}/docker-calls\nexec {} \"$@\"\n",
            shim.display(),
            real_docker.trim()
        ),
    )
    .unwrap();
    fs::set_permissions(shim.join("docker"), fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        shim.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let (mut ours, mut json_query, mut fields_query) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..options.rounds.max(3) {
        let _ = fs::remove_file(shim.join("docker-calls"));
        ours.push(seconds(run(girofle("girofle-list", &list_home)
            .env("PATH", &path)
            .args(["--format", "json"]))));
        json_query.push(seconds(run(Command::new("docker").args([
            "ps",
            "--all",
            "--no-trunc",
            "--format",
            "{{json .}}",
        ]))));
        fields_query.push(seconds(run(Command::new("docker").args([
            "ps",
            "--all",
            "--no-trunc",
            "--format",
            "{{.Names}}\t{{.State}}\t{{.Status}}\t{{.Image}}\t{{.Labels}}",
        ]))));
    }
    let calls = fs::read_to_string(shim.join("docker-calls"))
        .unwrap_or_default()
        .lines()
        .count();
    Listing {
        ours: median(ours) * 1000.0,
        calls,
        json_query: median(json_query) * 1000.0,
        fields_query: median(fields_query) * 1000.0,
    }
}

/// Line 6 alone (`--listing`): girofle-list with live containers that
/// wrote into their own layer, beside the two docker queries.
pub(crate) fn listing_only(options: &Options) {
    eprintln!(
        "== girofle-list: {} rows, {} containers with {} files each in their own layer",
        options.rows, options.containers, options.layer_files
    );
    let listed = measure_listing(options, options.layer_files);
    let table = format!(
        "{} rows, {} live containers, {} files written into each container's own layer, {} rounds, medians\n\n\
         | what | time | compared with the goal (150 ms) |\n| --- | --- | --- |\n\
         | girofle-list --format json ({} docker call) | {:.0} ms | {:.2} |\n\
         | docker ps --all --format '{{{{json .}}}}' (the query before issue 11: sizes computed) | {:.0} ms | {:.2} |\n\
         | docker ps --all with the fields girofle-list asks for | {:.0} ms | {:.2} |\n",
        options.rows,
        options.containers,
        options.layer_files,
        options.rounds.max(3),
        listed.calls,
        listed.ours,
        listed.ours / 150.0,
        listed.json_query,
        listed.json_query / 150.0,
        listed.fields_query,
        listed.fields_query / 150.0,
    );
    match &options.output {
        Some(path) => fs::write(path, &table).unwrap(),
        None => print!("{table}"),
    }
    eprintln!("{table}");
}
