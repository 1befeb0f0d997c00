//! `girofle-client ui` driven in a real headless Chromium through WebDriver
//! (Debian's `chromium` and `chromium-driver`), against a stand-in GitLab
//! with people and tokens: the person's buttons do what the subcommands do,
//! the page says it in plain words, and the folder's files are what the
//! person chose. Each screen is photographed (into `$GIROFLE_TEST_SCREENSHOTS`
//! when set, so that docs/screenshots/ can be refreshed; else under target/).

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use common::{Machine, Server, contents, plain, read, write};
use serde_json::{Value, json};

const USERS: [(&str, &str); 2] = [("alice", "glpat-alice-0001"), ("bob", "glpat-bob-0002")];

impl Server {
    /// A stand-in GitLab with two people; removed when dropped.
    fn with_page_users() -> Server {
        Server::start("girofle-client-ui-test", &USERS)
    }

    /// A machine of `person`'s, set up with the client; its home is named
    /// after them, as the screenshots show it.
    fn page_machine(&self, person: &str, name: &str) -> Machine {
        let root = tempfile::Builder::new().prefix("home").tempdir().unwrap();
        let home = root.path().join(person);
        self.set_up(Machine::at(root, home), person, name)
    }
}

impl Machine {
    /// `girofle-client ui --no-browser`, started in `~/Documents`.
    fn page(&self) -> Page {
        let mut child = self
            .command(&self.documents)
            // No news from the server but at start and after an action: a
            // change shown on the page is the watcher's doing.
            .args(["ui", "--no-browser", "--check-every", "3600"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line.trim().to_string();
        assert!(
            url.starts_with("http://127.0.0.1:") && url.contains("/#") && !url.contains('?'),
            "the page's address is printed, its key in the fragment: {url:?}"
        );
        Page { child, url }
    }
}

/// A running `girofle-client ui`; stopped when dropped.
struct Page {
    child: Child,
    url: String,
}

impl Page {
    /// The page's key (the address's fragment).
    fn key(&self) -> &str {
        self.url.split_once('#').unwrap().1
    }

    /// `http://127.0.0.1:PORT`.
    fn origin(&self) -> &str {
        self.url.split_once('#').unwrap().0.trim_end_matches('/')
    }

    /// `127.0.0.1:PORT`.
    fn host(&self) -> &str {
        self.origin().trim_start_matches("http://")
    }

    /// `GET path` with the key, as the page's script asks.
    fn get(&self, path: &str) -> (u16, String) {
        let mut response = agent()
            .get(format!("{}{path}", self.origin()))
            .header("X-Girofle-Key", self.key())
            .call()
            .unwrap();
        let status = response.status().as_u16();
        (status, response.body_mut().read_to_string().unwrap())
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn copies(dir: &Path, prefix: &str) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .count()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

fn http_get(url: &str) -> (u16, String) {
    let mut response = agent().get(url).call().unwrap();
    let status = response.status().as_u16();
    (status, response.body_mut().read_to_string().unwrap())
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
const PATIENCE: Duration = Duration::from_secs(90);

/// A headless Chromium driven over the W3C WebDriver protocol.
struct Browser {
    driver: Child,
    base: String,
    agent: ureq::Agent,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn start() -> Browser {
        Browser::start_with(&[])
    }

    /// A browser started with `extra` arguments.
    fn start_with(extra: &[&str]) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver: apt-get install chromium chromium-driver");
        let profile = tempfile::tempdir().unwrap();
        let mut browser = Browser {
            driver,
            base: format!("http://127.0.0.1:{port}"),
            agent: agent(),
            _profile: profile,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(mut answer) = browser.agent.get(format!("{}/status", browser.base)).call()
                && answer
                    .body_mut()
                    .read_json::<Value>()
                    .is_ok_and(|v| v["value"]["ready"] == json!(true))
            {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1000,820",
            "--lang=en-GB",
        ]
        .iter()
        .chain(extra)
        .map(|a| a.to_string())
        .chain([format!(
            "--user-data-dir={}",
            browser._profile.path().display()
        )])
        .collect::<Vec<_>>();
        let binary = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
            .into_iter()
            .find(|b| Path::new(b).exists())
            .expect("chromium: apt-get install chromium chromium-driver");
        let session = browser.call(
            "POST",
            "/session",
            json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {"binary": binary, "args": args},
            }}}),
        );
        let id = session["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {session}"))
            .to_string();
        browser.base = format!("{}/session/{id}", browser.base);
        browser
    }

    /// One WebDriver command; its `value`, or the error's.
    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.base);
        let result = match method {
            "GET" => self.agent.get(&url).call(),
            "DELETE" => self.agent.delete(&url).call(),
            _ => self.agent.post(&url).send_json(&body),
        };
        let mut answer = result.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let value: Value = answer.body_mut().read_json().unwrap();
        value["value"].clone()
    }

    fn go(&self, url: &str) {
        self.call("POST", "/url", json!({"url": url}));
    }

    /// Runs `script` in the page (its arguments as `arguments[i]`).
    fn script(&self, script: &str, args: Value) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": args}),
        )
    }

    /// What the person sees of the first element matching `css` (None when
    /// there is none, or it is hidden).
    fn text(&self, css: &str) -> Option<String> {
        self.script(
            "const e = document.querySelector(arguments[0]); \
             return e && e.getClientRects().length > 0 ? e.innerText : null;",
            json!([css]),
        )
        .as_str()
        .map(str::to_string)
    }

    /// Waits until `css` shows `needle`; returns its text.
    fn wait_text(&self, css: &str, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let text = self.text(css);
            if let Some(text) = &text
                && text.contains(needle)
            {
                return text.clone();
            }
            assert!(
                Instant::now() < deadline,
                "{css} never showed {needle:?}; it shows {text:?}\nthe page: {}",
                self.text("body").unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits until nothing matching `css` is shown.
    fn wait_gone(&self, css: &str) {
        let deadline = Instant::now() + PATIENCE;
        while self.text(css).is_some() {
            assert!(Instant::now() < deadline, "{css} is still shown");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Clicks the element matching `css` as a person would (a real click
    /// through the browser), once it is there and enabled. The page redraws
    /// when a folder changes, so a click that lands on a replaced element is
    /// tried again.
    fn click(&self, css: &str) {
        let deadline = Instant::now() + PATIENCE;
        let mut last;
        loop {
            let found = self.call(
                "POST",
                "/element",
                json!({"using": "css selector", "value": css}),
            );
            last = found.clone();
            if let Some(id) = found[ELEMENT].as_str() {
                let enabled = self.call("GET", &format!("/element/{id}/enabled"), json!({}));
                last = json!({ "enabled": enabled });
                if enabled == json!(true) {
                    let clicked = self.call("POST", &format!("/element/{id}/click"), json!({}));
                    if clicked.is_null() {
                        return;
                    }
                    last = clicked;
                }
            }
            assert!(
                Instant::now() < deadline,
                "could not click {css} ({last})\nthe page: {}",
                self.text("body").unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn type_into(&self, css: &str, text: &str) {
        let found = self.call(
            "POST",
            "/element",
            json!({"using": "css selector", "value": css}),
        );
        let id = found[ELEMENT].as_str().expect("the field is there");
        self.call(
            "POST",
            &format!("/element/{id}/value"),
            json!({"text": text}),
        );
    }

    /// Runs `look` in the tab the page just opened, then closes that tab and
    /// comes back.
    fn in_new_tab<T>(&self, look: impl FnOnce() -> T) -> T {
        let first = self.call("GET", "/window", json!({}));
        let deadline = Instant::now() + PATIENCE;
        let other = loop {
            let handles = self.call("GET", "/window/handles", json!({}));
            if let Some(other) = handles
                .as_array()
                .unwrap()
                .iter()
                .find(|handle| **handle != first)
            {
                break other.clone();
            }
            assert!(Instant::now() < deadline, "no tab was opened");
            std::thread::sleep(Duration::from_millis(100));
        };
        self.call("POST", "/window", json!({ "handle": other }));
        let seen = look();
        self.call("DELETE", "/window", json!({}));
        self.call("POST", "/window", json!({ "handle": first }));
        seen
    }

    /// A photograph of what the person sees, kept as `NAME.png`.
    fn screenshot(&self, name: &str) {
        let data = self.call("GET", "/screenshot", json!({}));
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().expect("a screenshot"))
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        let dir = std::env::var_os("GIROFLE_TEST_SCREENSHOTS")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.agent.delete(&self.base).call();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn card(path: &str) -> String {
    format!("section.folder[data-folder=\"{path}\"]")
}

#[test]
fn the_page_saves_syncs_and_a_refused_get_names_the_other_machine() {
    let server = Server::with_page_users();
    let laptop1 = server.page_machine("alice", "laptop-1");
    let laptop2 = server.page_machine("alice", "laptop-2");
    let report = laptop1.folder("Report");
    write(&report, "plan.txt", "first plan\n");
    write(&report, "notes/monday.txt", "monday\n");
    laptop1.run(&["new", "Report"]).expect_code(0);
    write(&laptop1.folder("Slides"), "talk.txt", "the talk\n");
    laptop1.run(&["new", "Slides"]).expect_code(0);

    let page1 = laptop1.page();
    // Without the key, or with another, nothing of the person's is served
    // (the page's own assets are, and hold nothing).
    let origin = page1.origin().to_string();
    assert_eq!(http_get(&format!("{origin}/api/state")).0, 403);
    assert_eq!(
        http_get(&format!("{origin}/api/state?t={}", page1.key())).0,
        403,
        "the key is not taken from an address"
    );
    let mut wrong = agent()
        .get(format!("{origin}/api/state"))
        .header("X-Girofle-Key", "0123456789abcdef0123456789abcdef")
        .call()
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 403);
    let _ = wrong.body_mut().read_to_string();
    assert_eq!(page1.get("/api/state").0, 200);
    let (status, page) = http_get(&format!("{origin}/"));
    assert!(!page.contains(page1.key()), "the page's key is not in it");
    assert_eq!(status, 200);
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "every asset comes from the program itself:\n{page}"
    );

    // Without --no-browser, xdg-open is handed a file of the person's that
    // leads to the page, not the address (a command line is public).
    let tools = tempfile::tempdir().unwrap();
    let fake = tools.path().join("xdg-open");
    std::fs::write(
        &fake,
        "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$(dirname \"$0\")/opened.tmp\"\n\
         mv \"$(dirname \"$0\")/opened.tmp\" \"$(dirname \"$0\")/opened\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        tools.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut opened_page = laptop1
        .command(&laptop1.documents)
        .arg("ui")
        .env("PATH", path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(opened_page.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    while !tools.path().join("opened").exists() {
        assert!(Instant::now() < deadline, "xdg-open was not run");
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = opened_page.kill();
    let _ = opened_page.wait();
    let handed = std::fs::read_to_string(tools.path().join("opened")).unwrap();
    let token = line.trim().split('#').nth(1).unwrap().to_string();
    assert!(!handed.contains(&token), "the key is not on a command line");
    let opener = PathBuf::from(handed.trim());
    assert!(
        read(opener.parent().unwrap(), "page.html").contains(line.trim()),
        "the file leads to the page"
    );
    assert_eq!(
        std::fs::metadata(&opener).unwrap().permissions().mode() & 0o077,
        0,
        "the file is the person's alone"
    );

    let browser = Browser::start();
    browser.go(&page1.url);
    let report_card = card("alice/report");
    let state = format!("{report_card} .state");
    browser.wait_text(&state, "All saved and sent");
    browser.wait_text("#who", "alice on laptop-1");
    let slides = format!("{} .state", card("alice/slides"));
    browser.wait_text(&slides, "All saved and sent");

    // A change on disk shows without a reload, and the server hears of it at
    // once: laptop-2 is refused the folder, naming laptop-1.
    write(&report, "plan.txt", "second plan\n");
    browser.wait_text(&state, "Changes not saved");
    let shown = browser.wait_text(&report_card, "changed: plan.txt");
    assert!(
        shown.contains("1 file changed since the last save."),
        "{shown}"
    );
    plain(&browser.text("body").unwrap());
    assert_eq!(
        browser.text(&slides).as_deref(),
        Some("All saved and sent"),
        "only the folder that changed"
    );
    browser.screenshot("folders");
    let refused = laptop2.run(&["get", "report"]).expect_code(1);
    assert!(
        refused.stderr.contains("your changes on laptop-1 since "),
        "{}",
        refused.stderr
    );

    // Save.
    browser.click(&format!("{report_card} button[data-action=save]"));
    browser.wait_text("#messages", "Saved a new version (1 file changed).");
    browser.wait_text(&state, "Saved but not sent");
    browser.wait_text(&report_card, "1 saved version not sent to the server yet.");
    let status = laptop1.run_in(&report, &["status"]).expect_code(0);
    assert!(
        status.stdout.contains("No unsaved changes.")
            && status.stdout.contains("1 saved version not sent"),
        "{}",
        status.stdout
    );

    // On laptop-2's page, Get a folder is refused, naming laptop-1.
    let page2 = laptop2.page();
    browser.go(&page2.url);
    browser.wait_text("#folders", "None of your folders is on this machine yet");
    browser.click("#get-button");
    let get = "#dialog tr[data-folder=\"alice/report\"] button[data-action=get]";
    browser.click(get);
    let refusal = browser.wait_text("#dialog .error", "changes on laptop-1 since ");
    assert!(
        refusal.contains("were never sent; sync there first"),
        "{refusal}"
    );
    browser.wait_text("#dialog", "Go on without them");
    plain(&browser.text("body").unwrap());
    browser.screenshot("get-refused");
    assert!(!laptop2.folder("Report").exists(), "nothing was brought");

    // Sync on laptop-1's page.
    browser.go(&page1.url);
    browser.wait_text(&state, "Saved but not sent");
    browser.click(&format!("{report_card} button[data-action=sync]"));
    browser.wait_text("#messages", "Sent: the server has every version");
    browser.wait_text(&state, "All saved and sent");
    plain(&browser.text("body").unwrap());

    // Now laptop-2's page gets it.
    browser.go(&page2.url);
    browser.click("#get-button");
    browser.click(get);
    browser.wait_text("#messages", "alice/report is here");
    browser.wait_text(&state, "All saved and sent");
    assert_eq!(contents(&laptop2.folder("Report")), contents(&report));
    assert_eq!(read(&laptop2.folder("Report"), "plan.txt"), "second plan\n");

    // The server has newer versions: a page opened afterwards says so, and
    // Sync brings them here.
    write(&report, "plan.txt", "third plan\n");
    laptop1.run_in(&report, &["sync"]).expect_code(0);
    drop(page2);
    let page2 = laptop2.page();
    browser.go(&page2.url);
    browser.wait_text(&state, "The server has newer versions");
    browser.wait_text(&report_card, "1 newer version from your other machines");
    browser.click(&format!("{report_card} button[data-action=sync]"));
    browser.wait_text("#messages", "Brought in 1 new version from the server.");
    browser.wait_text(&state, "All saved and sent");
    assert_eq!(read(&laptop2.folder("Report"), "plan.txt"), "third plan\n");

    // Share, from laptop-2's page: bob may then get it.
    browser.click(&format!("{report_card} button[data-action=share]"));
    browser.type_into("#person", "bob");
    browser.click("#dialog button.confirm");
    browser.wait_text(
        "#dialog .said",
        "bob may now get alice/report and send versions to it.",
    );
    browser.screenshot("share");
    let desk = server.page_machine("bob", "desk");
    assert_eq!(
        desk.run(&["get"]).expect_code(0).stdout.trim(),
        "alice/report"
    );
}

#[test]
fn the_page_resolves_file_by_file_and_discards_after_asking() {
    let server = Server::with_page_users();
    let laptop1 = server.page_machine("alice", "laptop-1");
    let laptop2 = server.page_machine("alice", "laptop-2");
    let report = laptop1.folder("Report");
    for name in ["x.txt", "y.txt", "z.txt"] {
        write(&report, name, &format!("{name} first\n"));
    }
    laptop1.run(&["new", "Report"]).expect_code(0);
    laptop2.run(&["get", "report"]).expect_code(0);
    let there = laptop2.folder("Report");
    write(&there, "x.txt", "x from laptop-2\n");
    write(&there, "y.txt", "y from laptop-2\n");
    laptop2.run_in(&there, &["sync"]).expect_code(0);
    // Both machines changed x and y.
    write(&report, "x.txt", "x from laptop-1\n");
    write(&report, "y.txt", "y from laptop-1\n");

    let page = laptop1.page();
    let browser = Browser::start();
    browser.go(&page.url);
    let report_card = card("alice/report");
    let state = format!("{report_card} .state");
    browser.wait_text(
        &state,
        "The server has newer versions, and this machine has changes",
    );
    browser.screenshot("both-changed");

    // Resolve: a screen listing exactly the files that differ.
    browser.click(&format!("{report_card} button[data-action=resolve]"));
    browser.wait_text("#dialog tr[data-file=\"x.txt\"]", "x.txt");
    let listed = browser.script(
        "return [...document.querySelectorAll('#dialog tr[data-file]')].map(r => r.dataset.file);",
        json!([]),
    );
    assert_eq!(listed, json!(["x.txt", "y.txt"]));
    let row = |file: &str| format!("#dialog tr[data-file=\"{file}\"]");
    let text = browser.text(&row("x.txt")).unwrap();
    for choice in [
        "Keep mine",
        "Keep the server's",
        "Keep both",
        "Open mine",
        "Open the server's",
    ] {
        assert!(text.contains(choice), "{choice}: {text}");
    }
    let screen = browser.text("#dialog").unwrap();
    plain(&screen);
    assert!(
        screen.contains("Your folder as it was is kept in") && !screen.contains("null"),
        "{screen}"
    );
    browser.screenshot("resolve");
    // Both versions open, each in a tab of its own.
    for (side, text) in [("mine", "x from laptop-1"), ("server", "x from laptop-2")] {
        browser.click(&format!("{} button[data-side={side}]", row("x.txt")));
        browser.in_new_tab(|| browser.wait_text("body", text));
    }
    let file = |name: &str| {
        format!(
            "/file?folder={}&file={name}&side=mine",
            report.display().to_string().replace('/', "%2F")
        )
    };
    assert_eq!(page.get(&file("x.txt")), (200, "x from laptop-1\n".into()));
    assert_eq!(
        page.get(&file("..%2F..%2Fclient.toml")).0,
        404,
        "only files waiting for a choice"
    );

    browser.click(&format!("{} button[data-keep=mine]", row("x.txt")));
    browser.wait_gone(&row("x.txt"));
    browser.click(&format!("{} button[data-keep=both]", row("y.txt")));
    browser.wait_text("#dialog .said", "Every file is chosen");
    plain(&browser.text("body").unwrap());
    let chosen = files(&[
        ("x.txt", "x from laptop-1\n"),
        ("y (from laptop-1).txt", "y from laptop-1\n"),
        ("y.txt", "y from laptop-2\n"),
        ("z.txt", "z.txt first\n"),
    ]);
    assert_eq!(contents(&report), chosen);
    browser.click("#dialog button.cancel");
    browser.wait_gone("#dialog");
    browser.click(&format!("{report_card} button[data-action=sync]"));
    browser.wait_text(&state, "All saved and sent");
    laptop2.run_in(&there, &["sync"]).expect_code(0);
    assert_eq!(contents(&there), chosen);

    // Discard shows what will be thrown away and asks first.
    write(&report, "x.txt", "a mistake\n");
    write(&report, "stray.txt", "stray\n");
    browser.wait_text(&state, "Changes not saved");
    browser.click(&format!("{report_card} button[data-action=discard]"));
    browser.wait_text("#dialog li[data-file=\"x.txt\"]", "changed: x.txt");
    browser.wait_text("#dialog li[data-file=\"stray.txt\"]", "new: stray.txt");
    browser.wait_text("#dialog", "This cannot be undone.");
    plain(&browser.text("body").unwrap());
    browser.screenshot("discard");
    // "No": nothing is thrown away.
    browser.click("#dialog button.cancel");
    browser.wait_gone("#dialog");
    assert_eq!(read(&report, "x.txt"), "a mistake\n");
    assert_eq!(read(&report, "stray.txt"), "stray\n");
    // "Yes": the folder is as last saved, and no copy is left behind.
    let copies_before = copies(&laptop1.documents, "Report (copy ");
    browser.click(&format!("{report_card} button[data-action=discard]"));
    browser.click("#dialog button.confirm");
    browser.wait_text("#messages", "The folder is back at version");
    browser.wait_text(&state, "All saved and sent");
    assert_eq!(contents(&report), chosen);
    assert_eq!(copies(&laptop1.documents, "Report (copy "), copies_before);
    // The folder made anew is watched as the old one was (twice: the first
    // change may be seen along with the discard's own stir).
    write(&report, "after.txt", "after the discard\n");
    browser.wait_text(&state, "Changes not saved");
    browser.wait_text(&report_card, "new: after.txt");
    write(&report, "later.txt", "later still\n");
    browser.wait_text(&report_card, "new: later.txt");
}

#[test]
fn the_page_goes_on_without_changes_never_sent_only_when_asked_and_they_are_kept() {
    let server = Server::with_page_users();
    let laptop1 = server.page_machine("alice", "laptop-1");
    let desk = server.page_machine("bob", "desk");
    let plan = laptop1.folder("Plan");
    write(&plan, "plan.txt", "alice's plan\n");
    laptop1.run(&["new", "Plan"]).expect_code(0);
    laptop1.run(&["share", "Plan", "bob"]).expect_code(0);

    let page1 = laptop1.page();
    let browser = Browser::start();
    browser.go(&page1.url);
    let plan_card = card("alice/plan");
    let state = format!("{plan_card} .state");
    browser.wait_text(&state, "All saved and sent");
    write(&plan, "plan.txt", "alice's second plan\n");
    browser.wait_text(&state, "Changes not saved");

    // bob's page: refused first, naming alice's machine; then he chooses to
    // go on without her changes.
    let page_desk = desk.page();
    browser.go(&page_desk.url);
    browser.click("#get-button");
    browser.click("#dialog tr[data-folder=\"alice/plan\"] button[data-action=get]");
    browser.wait_text("#dialog .error", "alice's changes on laptop-1 since ");
    assert!(
        !desk.folder("Plan").exists(),
        "nothing brought before he chooses"
    );
    browser.click("#dialog button.take-over");
    browser.wait_text("#messages", "Took the folder over");
    browser.wait_text(&state, "All saved and sent");
    plain(&browser.text("body").unwrap());
    assert_eq!(read(&desk.folder("Plan"), "plan.txt"), "alice's plan\n");

    // alice's page, at her next action: her work is kept aside, and the file
    // that differs waits for her choice.
    browser.go(&page1.url);
    browser.click(&format!("{plan_card} button[data-action=save]"));
    browser.wait_text("#messages", "took this folder over");
    browser.wait_text(&state, "Some files wait for your choice");
    plain(&browser.text("body").unwrap());
    let kept: Vec<PathBuf> = std::fs::read_dir(&laptop1.documents)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains("Plan (copy "))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(read(&kept[0], "plan.txt"), "alice's second plan\n");
    browser.click(&format!("{plan_card} button[data-action=resolve]"));
    browser.click("#dialog tr[data-file=\"plan.txt\"] button[data-keep=mine]");
    browser.wait_text("#dialog .said", "Every file is chosen");
    assert_eq!(read(&plan, "plan.txt"), "alice's second plan\n");
}

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
