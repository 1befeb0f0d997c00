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
use common::{Machine, Server, read, write};
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

mod french;
mod hostile;
mod page;
mod review;
