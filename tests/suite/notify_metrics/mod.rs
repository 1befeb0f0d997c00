//! Alerts and metrics as an operator meets them: a `girofle.conf` with
//! `[notify]` and `[metrics]`, a real HTTP server on loopback receiving the
//! events, real commands given them on stdin, and the textfile read by the
//! Python Prometheus client's own parser (`pip install prometheus-client`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use girofle::conf::Conf;
use girofle::home::Home;
use girofle::metrics::{self, BackupFigures, InstanceLabels};
use girofle::notify::{self, Event, Kind, Outcome};
use serde_json::Value;

/// A home of its own, with this `girofle.conf`.
struct World {
    _root: tempfile::TempDir,
    dir: PathBuf,
    home: Home,
    conf: Conf,
}

impl World {
    fn new(conf_text: &str) -> World {
        World::with(|_| conf_text.to_string())
    }

    /// A world whose `girofle.conf` names paths in its own directory.
    fn with(conf_text: impl FnOnce(&Path) -> String) -> World {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().to_path_buf();
        let home = Home::resolve(Some(&dir.join("home")));
        home.create().unwrap();
        std::fs::write(home.conf(), conf_text(&dir)).unwrap();
        // Through the file, as the binaries read it.
        let conf = Conf::load(&home).unwrap();
        World {
            _root: root,
            dir,
            home,
            conf,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.home.log_file()).unwrap_or_default()
    }
}

/// What the hook received.
#[derive(Debug, Clone)]
struct Request {
    request_line: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("the body is not JSON ({error}): {:?}", self.body))
    }
}

/// How the hook answers.
#[derive(Clone, Copy)]
enum Answer {
    /// `204 No Content`.
    Ok,
    /// `500` with a body.
    ServerError,
    /// Reads the request and never answers (holds the connection).
    Hang,
}

/// A real HTTP server on loopback that records every request it reads.
struct Hook {
    url: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Hook {
    fn start(answer: Answer) -> Hook {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let recorded = recorded.clone();
                std::thread::spawn(move || serve(stream, answer, &recorded));
            }
        });
        Hook { url, requests }
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

/// Reads one HTTP/1.1 request (headers, then `Content-Length` bytes), records it, answers.
fn serve(stream: TcpStream, answer: Answer, recorded: &Mutex<Vec<Request>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (key, value) = line.split_once(':').unwrap();
        headers.push((key.trim().to_string(), value.trim().to_string()));
    }
    let length: usize = headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case("content-length"))
        .map(|(_, value)| value.parse().unwrap())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    recorded.lock().unwrap().push(Request {
        request_line: request_line.trim_end().to_string(),
        headers,
        body: String::from_utf8(body).unwrap(),
    });
    let mut stream = stream;
    match answer {
        Answer::Ok => {
            let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
        }
        Answer::ServerError => {
            let body = "the hook is broken today";
            let _ = write!(
                stream,
                "HTTP/1.1 500 Internal Server Error\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
        Answer::Hang => std::thread::sleep(Duration::from_secs(120)),
    }
}

fn failed_backup() -> Event {
    Event::new(
        Kind::Backup,
        Outcome::Failure,
        "gitlab-host-1",
        "backup of instance 3 (docs) failed",
    )
    .instance(3, "docs", "girofle-gitlab-3-docs")
    .backup("2026-11-25T14-30-00Z")
    .error(anyhow::anyhow!("no space left on device").context("cannot copy data/"))
    .duration(Duration::from_millis(67_250))
}

fn good_shipping() -> Event {
    Event::new(
        Kind::Shipping,
        Outcome::Success,
        "gitlab-host-1",
        "backup 2026-11-25T14-30-00Z of instance 3 shipped to off-site",
    )
    .instance(3, "docs", "girofle-gitlab-3-docs")
    .backup("2026-11-25T14-30-00Z")
    .target("off-site")
}

/// A path as a TOML basic string.
fn toml_string(path: &Path) -> String {
    serde_json::to_string(path.to_str().unwrap()).unwrap()
}

mod hooks;
mod secrets;
mod textfile;
