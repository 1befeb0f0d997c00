//! `--sections unavailable` (issue 21): the time GitLab did not answer during a pause and a stop backup.

use super::*;

/// Builds `BOOT_STANDIN` with `delay` seconds of boot delay, unless an
/// image of that name with that delay is already there.
pub(crate) fn boot_image(delay: u64) {
    let present = Command::new("docker")
        .args([
            "image",
            "inspect",
            "--format",
            "{{range .Config.Env}}{{println .}}{{end}}",
            BOOT_STANDIN,
        ])
        .output()
        .map(|out| {
            out.status.success()
                && String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .any(|line| line == format!("STANDIN_BOOT_DELAY={delay}"))
        })
        .unwrap_or(false);
    if present {
        return;
    }
    eprintln!("== building {BOOT_STANDIN} (boot delay {delay} s)");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/standin/build.sh");
    run(Command::new("sh").arg(script).args([
        "--tag",
        BOOT_STANDIN,
        "--boot-delay",
        &delay.to_string(),
    ]));
}

/// One request of the client loop, in time since the loop's origin.
pub(crate) struct Probe {
    pub(crate) start: Duration,
    pub(crate) end: Duration,
    /// `200` with `GitLab OK`, whatever the time it took.
    pub(crate) ok: bool,
}

/// Longest a request of the client loop may take before it is given up.
pub(crate) const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// The second, looser bound of served: a request refused, failed or
/// stalled a whole second, which this machine's load alone rarely reaches.
pub(crate) const STALLED: Duration = Duration::from_secs(1);
/// Time between the starts of two requests of the client loop.
pub(crate) const PROBE_INTERVAL: Duration = Duration::from_millis(15);
/// A request answered later than this was not served, as a user sees it;
/// the table also gives the figures with `STALLED` as the bound.
pub(crate) const SERVED_WITHIN: Duration = Duration::from_millis(200);

/// `GET /-/health` on `address`, a new connection each time as a browser
/// after an error would; true when GitLab answered `200` with `GitLab OK`
/// within `PROBE_TIMEOUT`.
pub(crate) fn health(address: std::net::SocketAddr) -> bool {
    use std::io::Read;
    let deadline = Instant::now() + PROBE_TIMEOUT;
    let left = || deadline.saturating_duration_since(Instant::now());
    let Ok(mut stream) = std::net::TcpStream::connect_timeout(&address, PROBE_TIMEOUT) else {
        return false;
    };
    let request = format!("GET /-/health HTTP/1.0\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    if left().is_zero()
        || stream.set_write_timeout(Some(left())).is_err()
        || stream.write_all(request.as_bytes()).is_err()
    {
        return false;
    }
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let wait = left();
        if wait.is_zero() || stream.set_read_timeout(Some(wait)).is_err() {
            return false;
        }
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
            Err(_) => return false,
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    let status = answer.lines().next().unwrap_or("");
    status.starts_with("HTTP/1.") && status.contains(" 200") && answer.contains("GitLab OK")
}

/// A client loop on `address` in a thread of its own, until `stop` is set.
pub(crate) fn client_loop(
    address: std::net::SocketAddr,
    origin: Instant,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<Vec<Probe>> {
    std::thread::spawn(move || {
        let mut probes = Vec::new();
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let start = origin.elapsed();
            let ok = health(address);
            let end = origin.elapsed();
            probes.push(Probe { start, end, ok });
            let next = start + PROBE_INTERVAL;
            if end < next {
                std::thread::sleep(next - end);
            }
        }
        probes
    })
}

/// What the client loop saw.
#[derive(Default)]
pub(crate) struct Unavailability {
    /// Sum of the windows, in seconds.
    pub(crate) total: f64,
    pub(crate) windows: usize,
    /// The longest single request, in seconds (capped at `PROBE_TIMEOUT`).
    pub(crate) longest_request: f64,
    /// The longest single window, in seconds.
    pub(crate) longest: f64,
    pub(crate) requests: usize,
    /// Requests refused, reset, answered with an error or given up.
    pub(crate) failed: usize,
    /// Requests answered `GitLab OK`, but later than `SERVED_WITHIN`.
    pub(crate) slow: usize,
}

/// A window opens at the start of a request that was not served (it
/// failed, or took longer than `within`) and closes at the end of the
/// first request served after it; the windows are summed. One left open at
/// the end closes at the last request's end.
pub(crate) fn unavailability(probes: &[Probe], within: Duration) -> Unavailability {
    let mut seen = Unavailability {
        requests: probes.len(),
        ..Default::default()
    };
    let mut open: Option<Duration> = None;
    for probe in probes {
        let took = probe.end.saturating_sub(probe.start);
        seen.longest_request = seen.longest_request.max(took.as_secs_f64());
        let served = probe.ok && took <= within;
        if !probe.ok {
            seen.failed += 1;
        } else if !served {
            seen.slow += 1;
        }
        match (served, open) {
            (false, None) => open = Some(probe.start),
            (true, Some(start)) => {
                let window = (probe.end - start).as_secs_f64();
                seen.longest = seen.longest.max(window);
                seen.total += window;
                seen.windows += 1;
                open = None;
            }
            _ => {}
        }
    }
    if let (Some(start), Some(last)) = (open, probes.last()) {
        let window = (last.end - start).as_secs_f64();
        seen.longest = seen.longest.max(window);
        seen.total += window;
        seen.windows += 1;
    }
    seen
}

/// Polls until GitLab has answered `/-/health` 10 times in a row (within
/// `STALLED`: on a loaded machine the stand-in's shell answers take
/// up to half a second), for up to 10 minutes.
pub(crate) fn wait_served(address: std::net::SocketAddr) {
    let start = Instant::now();
    let mut streak = 0;
    while streak < 10 {
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "GitLab on {address} did not answer for 10 minutes"
        );
        let began = Instant::now();
        if health(address) && began.elapsed() <= STALLED {
            streak += 1;
        } else {
            streak = 0;
        }
        std::thread::sleep(PROBE_INTERVAL);
    }
}

/// Rewrites about 1% of the files of the data volume while GitLab runs
/// (but the stand-in's own database, `changeable_files`).
pub(crate) fn change_one_percent_live(data: &Path, seed: u64) -> usize {
    let mut random = Random(seed);
    let files = changeable_files(data);
    let wanted = (files.len() / 100).max(1);
    for _ in 0..wanted {
        let path = &files[(random.next() % files.len() as u64) as usize];
        let length = fs::metadata(path).unwrap().len() as usize;
        let mut file = fs::OpenOptions::new().write(true).open(path).unwrap();
        let mut page = vec![0u8; 8_192.min(length)];
        random.fill(&mut page);
        file.write_all(&page).unwrap();
    }
    wanted
}

/// One backup of `consistency` measured by a client loop: what it saw,
/// the backup's wall time and its MANIFEST's own account.
pub(crate) struct Unavailable {
    pub(crate) consistency: &'static str,
    pub(crate) changed: usize,
    /// Within `SERVED_WITHIN`, and within `STALLED`.
    pub(crate) seen: [Unavailability; 2],
    pub(crate) backup: f64,
    /// MANIFEST: `stop_window_ms`, `frozen_ms`, `fallback`, `second_pass_walked`.
    pub(crate) window: String,
    pub(crate) frozen: String,
    pub(crate) fallback: String,
    pub(crate) walked: String,
}

/// `--sections unavailable` (issue 21): for `pause` and for `stop`, 1% of
/// the files changed since the previous backup, the time GitLab did not
/// answer a client loop during `girofle-backup 1 --consistency X`.
pub(crate) fn unavailable(
    options: &Options,
    home: &Path,
    volumes: &Path,
    backups: &Path,
    files: u64,
    bytes: u64,
) -> String {
    let address: std::net::SocketAddr = format!("{}:18777", instance_ip()).parse().unwrap();
    let load = || {
        fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let load_before = load();
    eprintln!(
        "== unavailable: waiting for GitLab to answer (boot delay {} s)",
        options.boot_delay
    );
    wait_served(address);
    // A control: the same loop with no backup running, for what this
    // machine's load alone costs the stand-in's answers.
    let origin = Instant::now();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let probes = client_loop(address, origin, stop.clone());
    std::thread::sleep(Duration::from_secs(10));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let control = probes.join().unwrap();
    let control = [SERVED_WITHIN, STALLED].map(|within| unavailability(&control, within));
    let mut measured = Vec::new();
    for (turn, consistency) in ["pause", "stop"].into_iter().enumerate() {
        eprintln!("== unavailable: --consistency {consistency}, 1% changed");
        let changed =
            change_one_percent_live(&volumes.join("data"), options.seed + 200 + turn as u64);
        // SAFETY: sync(2) takes no argument and cannot fail.
        unsafe { nix::libc::sync() };
        wait_served(address);
        let origin = Instant::now();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let probes = client_loop(address, origin, stop.clone());
        std::thread::sleep(Duration::from_secs(2));
        let began = Instant::now();
        let id = output_of(girofle("girofle-backup", home).args([
            "1",
            "--keep-last",
            "1000",
            "--consistency",
            consistency,
        ]));
        let backup = began.elapsed().as_secs_f64();
        // Until GitLab has answered again (the backup waits for healthy,
        // which the stand-in's check says within a second of answering).
        wait_served(address);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let probes = probes.join().unwrap();
        let seen = [SERVED_WITHIN, STALLED].map(|within| unavailability(&probes, within));
        let value = |key: &str| header_value(backups, &id, key);
        eprintln!(
            "   {consistency}: unavailable {:.3} s in {} windows, longest request {:.3} s, backup {backup:.1} s, MANIFEST stop_window_ms {}",
            seen[0].total,
            seen[0].windows,
            seen[0].longest_request,
            value("stop_window_ms")
        );
        measured.push(Unavailable {
            consistency,
            changed,
            seen,
            backup,
            window: value("stop_window_ms"),
            frozen: value("frozen_ms"),
            fallback: value("fallback"),
            walked: value("second_pass_walked"),
        });
    }
    let load_after = load();
    let mut table = format!(
        "\nUnavailable as a client sees it (issue 21): a loop sends `GET /-/health` every {} ms (one at a time, a new connection each, given up after {} s); a request is served when it is answered `200 GitLab OK` within {} ms (or, second figures, within {} s). Unavailable = from the start of a request not served (refused, reset, error, given up, or answered later) to the end of the first request served after it, summed over such windows. Stand-in boot delay {} s; {files} files, {} MiB, 1% changed before each backup; load average {load_before} before, {load_after} after.\n\n\
         | consistency | files changed | unavailable, served within {} ms (windows; longest) | unavailable, served within {} s (windows; longest) | longest request | requests: failed / slower than {} ms | Girofle's own window (MANIFEST `stop_window_ms`) | `frozen_ms` | `fallback` | second pass walked | whole backup |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
        PROBE_INTERVAL.as_millis(),
        PROBE_TIMEOUT.as_secs(),
        SERVED_WITHIN.as_millis(),
        STALLED.as_secs(),
        options.boot_delay,
        bytes >> 20,
        SERVED_WITHIN.as_millis(),
        STALLED.as_secs(),
        SERVED_WITHIN.as_millis(),
    );
    let cells = |seen: &[Unavailability; 2]| {
        format!(
            "{:.3} s ({}; {:.3} s) | {:.3} s ({}; {:.3} s) | {:.3} s | {}: {} / {}",
            seen[0].total,
            seen[0].windows,
            seen[0].longest,
            seen[1].total,
            seen[1].windows,
            seen[1].longest,
            seen[0].longest_request,
            seen[0].requests,
            seen[0].failed,
            seen[0].slow
        )
    };
    table.push_str(&format!(
        "| none (control: 10 s, no backup) | - | {} | - | - | - | - | - |\n",
        cells(&control)
    ));
    for row in &measured {
        table.push_str(&format!(
            "| {} | {} | {} | {} ms | {} | {} | {} | {:.1} s |\n",
            row.consistency,
            row.changed,
            cells(&row.seen),
            row.window,
            row.frozen,
            row.fallback,
            row.walked,
            row.backup,
        ));
    }
    if let [pause, stop] = &measured[..] {
        table.push_str(&format!(
            "\npause / stop: {:.2}% served within {} ms, {:.2}% within {} s (goal: pause under 1 s, and under 1% of stop)\n",
            100.0 * pause.seen[0].total / stop.seen[0].total.max(f64::MIN_POSITIVE),
            SERVED_WITHIN.as_millis(),
            100.0 * pause.seen[1].total / stop.seen[1].total.max(f64::MIN_POSITIVE),
            STALLED.as_secs()
        ));
    }
    table
}
