//! Hostile inputs: a file name from the server, another site in the browser, a wrong Host, slow uploads.

use super::*;

/// Percent-encodes everything but unreserved characters.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Sends `request` as it is, bytes and all, and returns the raw answer.
fn raw(address: &str, request: &str) -> String {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The status of a raw answer.
fn status_of(answer: &str) -> u16 {
    answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an answer: {answer:?}"))
}

/// A request's head, read until its blank line (or a pause).
fn read_head(stream: &mut TcpStream) -> String {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// Another site on this machine (another port of 127.0.0.1): it serves
/// `html` and records the head of every request it is sent.
struct Elsewhere {
    port: u16,
    heard: Arc<Mutex<Vec<String>>>,
}

impl Elsewhere {
    fn start(html: String) -> Elsewhere {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let heard = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&heard);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let head = read_head(&mut stream);
                record.lock().unwrap().push(head);
                let _ = stream.write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{html}",
                        html.len()
                    )
                    .as_bytes(),
                );
            }
        });
        Elsewhere { port, heard }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    fn heard(&self) -> Vec<String> {
        self.heard.lock().unwrap().clone()
    }
}

#[test]
fn a_file_name_from_the_server_adds_no_header_and_the_key_never_leaves_the_page() {
    // Where an added `Refresh` header would send the browser, with the
    // page's address in `Referer` by the added `Referrer-Policy`. No `/` nor
    // `\\` in the name (the client refuses to write such a name in a
    // folder): `https:host:port` is another origin without them.
    let elsewhere = Elsewhere::start("elsewhere".into());
    let name = format!(
        "x\r\nRefresh: 0;url=https:127.0.0.1:{}\r\nReferrer-Policy: unsafe-url\r\n.txt",
        elsewhere.port
    );
    let server = Server::with_page_users();
    let laptop = server.page_machine("alice", "laptop-1");
    let desk = server.page_machine("bob", "desk");
    let report = laptop.folder("Report");
    write(&report, "plan.txt", "the plan\n");
    laptop.run(&["new", "Report"]).expect_code(0);
    laptop.run(&["share", "Report", "bob"]).expect_code(0);
    desk.run(&["get", "alice/report"]).expect_code(0);
    // bob, who shares the folder, sends a file of that name; alice made one
    // of the same name: it waits for her choice, and she opens it.
    let there = desk.folder("Report");
    write(&there, &name, "bob's version\n");
    desk.run_in(&there, &["sync"]).expect_code(0);
    write(&report, &name, "alice's version\n");

    let page = laptop.page();
    let browser = Browser::start();
    browser.go(&page.url);
    let report_card = card("alice/report");
    browser.wait_text(
        &format!("{report_card} .state"),
        "The server has newer versions, and this machine has changes",
    );
    let shown = browser
        .script("return location.href;", json!([]))
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        shown,
        format!("{}/", page.origin()),
        "the key is taken out of the address"
    );
    browser.click(&format!("{report_card} button[data-action=resolve]"));
    browser.click("#dialog [data-side=mine]");
    browser.in_new_tab(|| browser.wait_text("body", "alice's version"));
    browser.click("#dialog [data-side=server]");
    browser.in_new_tab(|| browser.wait_text("body", "bob's version"));

    // The answer, byte for byte: the name is in one header, encoded.
    let answer = raw(
        page.host(),
        &format!(
            "GET /file?folder={}&file={}&side=server HTTP/1.1\r\nHost: {}\r\n\
             X-Girofle-Key: {}\r\n\r\n",
            encode(&report.display().to_string()),
            encode(&name),
            page.host(),
            page.key()
        ),
    );
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert_eq!(body, "bob's version\n");
    let lines: Vec<&str> = head.split("\r\n").collect();
    assert!(lines[0].starts_with("HTTP/1.1 200 "), "{head}");
    for line in &lines[1..] {
        assert!(
            line.bytes()
                .all(|b| b == b'\t' || (0x20..0x7f).contains(&b)),
            "a control character in {line:?}"
        );
        let field = line.split(':').next().unwrap().to_ascii_lowercase();
        assert!(
            !["refresh", ".txt", "location"].contains(&field.as_str()),
            "an added header: {line:?}\n{head}"
        );
    }
    let policies: Vec<&&str> = lines
        .iter()
        .filter(|line| line.to_ascii_lowercase().starts_with("referrer-policy"))
        .collect();
    assert_eq!(policies, [&"Referrer-Policy: no-referrer"], "{head}");
    assert!(
        head.contains(
            "\r\nContent-Disposition: inline; filename*=UTF-8''x%0D%0ARefresh%3A%200%3Burl%3D"
        ),
        "{head}"
    );

    // Nothing of the page's went elsewhere: not a request, not its key.
    std::thread::sleep(Duration::from_secs(2));
    let heard = elsewhere.heard();
    assert!(
        heard.iter().all(|head| !head.contains(page.key())),
        "the key left the page: {heard:?}"
    );
    assert!(
        heard.is_empty(),
        "the browser was sent elsewhere: {heard:?}"
    );
}

#[test]
fn another_site_in_the_browser_cannot_drive_the_page() {
    let server = Server::with_page_users();
    let laptop = server.page_machine("alice", "laptop-1");
    let desk = server.page_machine("bob", "desk");
    let report = laptop.folder("Report");
    write(&report, "plan.txt", "the plan\n");
    laptop.run(&["new", "Report"]).expect_code(0);
    let page = laptop.page();
    let dir = report.display().to_string();

    // A page of another site, on another port of 127.0.0.1 (the same site
    // for the browser's cookies), that even knows the key: a form sending
    // text/plain made to read as JSON, and a script's request with the key.
    let field = format!(r#"{{"folder":"{dir}","person":"bob","x":""#);
    let html = format!(
        r#"<!doctype html><title>elsewhere</title>
<form method="POST" enctype="text/plain" action="{origin}/api/share?t={key}">
<input type="hidden" name='{field}' value='"}}'></form>
<p id="fetch">waiting</p>
<script>
fetch('{origin}/api/share', {{method: 'POST',
  headers: {{'Content-Type': 'application/json', 'X-Girofle-Key': '{key}'}},
  body: JSON.stringify({{folder: '{dir}', person: 'bob'}})}})
  .then(() => 'answered', () => 'refused')
  .then((what) => fetch('/result?' + what))
  .finally(() => document.forms[0].submit());
</script>"#,
        origin = page.origin(),
        key = page.key(),
    );
    let elsewhere = Elsewhere::start(html);
    let browser = Browser::start();
    browser.go(&elsewhere.url());
    // The form's answer, shown in the tab.
    browser.wait_text("body", "This page opens only from the address");
    let heard = elsewhere.heard();
    assert!(
        heard
            .iter()
            .any(|head| head.starts_with("GET /result?refused ")),
        "the other site's request with the key was refused: {heard:?}"
    );

    // The same, without a browser's rules: an action needs JSON, the page's
    // own origin and the key.
    let action = |origin: &str, kind: &str, site: Option<&str>, key: &str| {
        let body = json!({"folder": dir, "person": "bob"}).to_string();
        status_of(&raw(
            page.host(),
            &format!(
                "POST /api/share HTTP/1.1\r\nHost: {}\r\nOrigin: {origin}\r\n\
                 Content-Type: {kind}\r\nX-Girofle-Key: {key}\r\n{}Content-Length: {}\r\n\r\n{body}",
                page.host(),
                site.map(|s| format!("Sec-Fetch-Site: {s}\r\n"))
                    .unwrap_or_default(),
                body.len()
            ),
        ))
    };
    let other = elsewhere.url();
    let other = other.trim_end_matches('/');
    let own = page.origin();
    assert_eq!(action(other, "application/json", None, page.key()), 403);
    assert_eq!(action("null", "application/json", None, page.key()), 403);
    assert_eq!(
        action(own, "application/json", Some("same-site"), page.key()),
        403
    );
    assert_eq!(action(own, "text/plain", None, page.key()), 415);
    assert_eq!(action(own, "application/json", None, "0123"), 403);
    assert_eq!(
        desk.run(&["get"]).expect_code(0).stdout.trim(),
        "",
        "nothing was shared"
    );
    // The page's own request is taken.
    assert_eq!(
        action(own, "application/json", Some("same-origin"), page.key()),
        200
    );
    assert_eq!(
        desk.run(&["get"]).expect_code(0).stdout.trim(),
        "alice/report"
    );
}

#[test]
fn the_page_answers_only_at_its_own_address() {
    let server = Server::with_page_users();
    let laptop = server.page_machine("alice", "laptop-1");
    write(&laptop.folder("Report"), "plan.txt", "the plan\n");
    laptop.run(&["new", "Report"]).expect_code(0);
    let page = laptop.page();
    let port = page.host().rsplit(':').next().unwrap().to_string();

    // A site whose name now leads to 127.0.0.1 (DNS rebinding), in a
    // browser: the page is not served under that name.
    let browser = Browser::start_with(&["--host-resolver-rules=MAP rebound.example 127.0.0.1"]);
    browser.go(&format!("http://rebound.example:{port}/#{}", page.key()));
    browser.wait_text(
        "body",
        &format!("This page answers only at {}", page.host()),
    );
    assert!(browser.text("#folders").is_none(), "no folder shown");

    let state = |host: &str| {
        raw(
            page.host(),
            &format!(
                "GET /api/state HTTP/1.1\r\nHost: {host}\r\nX-Girofle-Key: {}\r\n\r\n",
                page.key()
            ),
        )
    };
    for host in [
        format!("rebound.example:{port}"),
        format!("localhost:{port}"),
        "127.0.0.1".to_string(),
        format!("127.0.0.1:{port}\r\nHost: rebound.example:{port}"),
    ] {
        let answer = state(&host);
        assert_eq!(status_of(&answer), 421, "{host}: {answer}");
        assert!(!answer.contains("alice"), "{answer}");
    }
    let answer = state(page.host());
    assert_eq!(status_of(&answer), 200, "{answer}");
    assert!(answer.contains("\"person\":\"alice\""), "{answer}");
}

#[test]
fn slow_uploads_do_not_freeze_the_page() {
    let server = Server::with_page_users();
    let laptop = server.page_machine("alice", "laptop-1");
    let report = laptop.folder("Report");
    write(&report, "plan.txt", "the plan\n");
    laptop.run(&["new", "Report"]).expect_code(0);
    let page = laptop.page();
    let browser = Browser::start();
    browser.go(&page.url);
    let state = format!("{} .state", card("alice/report"));
    browser.wait_text(&state, "All saved and sent");

    // Eight uploads that announce a body and send one byte of it: four
    // without the key, four with it.
    let slow = |key: &str| {
        let mut stream = TcpStream::connect(page.host()).unwrap();
        stream
            .write_all(
                format!(
                    "POST /api/save HTTP/1.1\r\nHost: {}\r\nOrigin: {}\r\n\
                     Content-Type: application/json\r\nX-Girofle-Key: {key}\r\n\
                     Content-Length: 4000\r\n\r\n{{",
                    page.host(),
                    page.origin()
                )
                .as_bytes(),
            )
            .unwrap();
        stream
    };
    let mut strangers: Vec<TcpStream> = (0..4).map(|_| slow("no")).collect();
    let mut keyed: Vec<TcpStream> = (0..4).map(|_| slow(page.key())).collect();

    // The page goes on: it answers, and shows a change on disk.
    let quick = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(3)))
        .build()
        .new_agent();
    let mut answer = quick
        .get(format!("{}/api/state", page.origin()))
        .header("X-Girofle-Key", page.key())
        .call()
        .expect("the page answers while the uploads wait");
    assert_eq!(answer.status().as_u16(), 200);
    let _ = answer.body_mut().read_to_string();
    write(&report, "plan.txt", "the second plan\n");
    browser.wait_text(&state, "Changes not saved");

    // A request without the key is refused at once, without its body; one
    // that stops sending is dropped after a while.
    for stream in &mut strangers {
        stream
            .set_read_timeout(Some(Duration::from_secs(3)))
            .unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        assert_eq!(status_of(&answer), 403, "{answer}");
    }
    for stream in &mut keyed {
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        assert_eq!(status_of(&answer), 408, "{answer}");
    }
    // A body larger than any the page sends is refused unread.
    let answer = raw(
        page.host(),
        &format!(
            "POST /api/save HTTP/1.1\r\nHost: {}\r\nOrigin: {}\r\n\
             Content-Type: application/json\r\nX-Girofle-Key: {}\r\n\
             Content-Length: 100000000\r\n\r\n{{",
            page.host(),
            page.origin(),
            page.key()
        ),
    );
    assert_eq!(status_of(&answer), 413, "{answer}");
    assert_eq!(
        read(&report, "plan.txt"),
        "the second plan\n",
        "nothing saved"
    );
}
