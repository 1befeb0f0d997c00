//! `girofle-client ui`: a page on this machine (127.0.0.1, a free port, a
//! random key in its address's fragment) with buttons for what the subcommands do. The
//! page calls the same library functions as the subcommands; it adds no logic
//! of its own beyond presenting their results in plain words.
//!
//! While the page runs, the person's folders are watched: a change updates the
//! page without a reload (it polls `/api/state`, which is cheap: the states are
//! kept here and recomputed on change), and the change is recorded on the
//! server as soon as it happens, so another machine is told at once that this
//! one has changes never sent.
//!
//! Every asset is inside the binary: no internet, no CDN.
//!
//! The key: the address printed is `http://127.0.0.1:PORT/#KEY`. A fragment
//! is never sent in a request nor in a `Referer`; the page's script keeps the
//! key in the tab's session storage, takes it out of the address bar, and
//! sends it in the `X-Girofle-Key` header of each of its requests. A header
//! is something no other site can make a browser send here (it would need a
//! CORS preflight this server never grants), and no cookie is used: cookies
//! of 127.0.0.1 go to every port of it. Only the page's own assets are served
//! without the key. Besides, the Host must be this address (no DNS
//! rebinding), and an action must be JSON from the page's own origin.

mod http;
mod review;
mod views;

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::config::Location;
use super::folders::Locked;
use crate::actions::Keep;
use crate::lang::{self, Lang};
use crate::session::{Client, Notes};
use crate::tr;
use girofle_base::error::{Error, Result};
use http::{Answer, Head, Query};
use views::Views;

/// How the page is started.
#[derive(Debug, Clone)]
pub struct Options {
    /// How often the server is asked for news of every folder.
    pub refresh: Duration,
}

/// The page, listening, not yet serving.
pub struct Page {
    listener: TcpListener,
    url: String,
    app: Arc<App>,
}

/// What every request handler shares.
struct App {
    client: Client,
    token: String,
    /// `127.0.0.1:PORT`, the only Host answered.
    host: String,
    /// `http://127.0.0.1:PORT`, the only origin whose actions are taken.
    origin: String,
    place: PathBuf,
    views: Views,
}

impl Page {
    /// Opens the configuration, listens on a free port of 127.0.0.1, and
    /// starts watching the folders.
    pub fn start(location: Location, options: Options) -> Result<Page> {
        let client = Client::open(location)?;
        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|error| Error::failed(tr!("cannot-listen", error = error.to_string())))?;
        let port = listener.local_addr()?.port();
        let token = random_token()?;
        // Where "Get a folder" puts folders, as `get` does.
        let place = std::env::current_dir()?;
        let host = format!("127.0.0.1:{port}");
        let url = format!("http://{host}/#{token}");
        let app = Arc::new(App {
            client,
            token,
            origin: format!("http://{host}"),
            host,
            place,
            views: Views::default(),
        });
        views::start(Arc::clone(&app), options.refresh)?;
        Ok(Page { listener, url, app })
    }

    /// The page's address, its key in the fragment.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A file of the person's (0600, in the client's data directory) that
    /// sends the browser to the page. The browser is given this file rather
    /// than the address itself: a command line is visible to every user of
    /// the machine, and the address carries the page's key.
    pub fn opener(&self) -> Result<PathBuf> {
        let file = self.app.client.data_dir.join("page.html");
        let html = format!(
            "<!doctype html><meta charset=\"utf-8\">\
             <meta http-equiv=\"refresh\" content=\"0;url={0}\">\
             <title>Your folders</title><a href=\"{0}\">Your folders</a>\n",
            self.url
        );
        std::fs::create_dir_all(&self.app.client.data_dir)?;
        girofle_base::atomic::write(&file, html.as_bytes(), 0o600)?;
        Ok(file)
    }

    /// Serves until the process ends; each request on its own thread (an
    /// action that waits for the server does not stop the page from
    /// updating, nor does a request that arrives slowly).
    pub fn run(self) -> Result<()> {
        http::serve(self.listener, self.app);
        Ok(())
    }
}

/// 128 random bits, in hex.
fn random_token() -> Result<String> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut file| file.read_exact(&mut bytes))
        .map_err(|error| Error::failed(tr!("cannot-random", error = error.to_string())))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

const INDEX: &str = include_str!("page/index.html");
const SCRIPT: &str = include_str!("page/app.js");
const STYLE: &str = include_str!("page/style.css");
const ICON: &[u8] = include_bytes!("page/icon.svg");

/// The page's own assets, the only answers given without the key: they
/// hold nothing of the person's.
fn asset(path: &str, lang: Lang) -> Option<Answer> {
    Some(match path {
        "/" => Answer::asset("text/html; charset=utf-8", INDEX.as_bytes()),
        "/words.js" => Answer::asset("text/javascript; charset=utf-8", &words_script(lang)),
        "/app.js" => Answer::asset("text/javascript; charset=utf-8", SCRIPT.as_bytes()),
        "/style.css" => Answer::asset("text/css; charset=utf-8", STYLE.as_bytes()),
        "/icon.svg" => Answer::asset("image/svg+xml", ICON),
        _ => return None,
    })
}

impl http::Handler for App {
    fn admit(&self, head: &Head) -> std::result::Result<(), Answer> {
        // Another name for this address (DNS rebinding: a site whose name
        // now points at 127.0.0.1) is not this page.
        if !head
            .header("host")
            .is_some_and(|host| host.eq_ignore_ascii_case(&self.host))
        {
            return Err(Answer::text(
                421,
                &format!("This page answers only at {}.\n", self.host),
            ));
        }
        if head.method == "GET" && asset(&head.path, Lang::En).is_some() {
            return Ok(());
        }
        // The key keeps other local users (and other sites in the
        // person's browser) from driving the page.
        if !http::same_secret(head.header("x-girofle-key").unwrap_or(""), &self.token) {
            return Err(Answer::forbidden());
        }
        if head.method != "GET" {
            // An action: JSON (which no form can send), from the page itself.
            let json = head.header("content-type").is_some_and(|kind| {
                kind.split(';')
                    .next()
                    .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
            });
            if !json {
                return Err(Answer::text(415, "An action is sent as JSON.\n"));
            }
            let own_origin = head.header("origin") == Some(self.origin.as_str());
            let same_site = head
                .header("sec-fetch-site")
                .is_none_or(|site| site == "same-origin");
            if !own_origin || !same_site {
                return Err(Answer::forbidden());
            }
        }
        Ok(())
    }

    fn answer(&self, head: &Head, body: &[u8]) -> Answer {
        // Each request in its browser's language: the person at the page may
        // read another language than the terminal that started it.
        let lang = Lang::from_accept_language(head.header("accept-language").unwrap_or(""));
        if head.method == "GET"
            && let Some(answer) = asset(&head.path, lang)
        {
            return answer;
        }
        lang::scoped(lang, || {
            self.route(&head.method, &head.path, &head.query, body)
        })
    }
}

impl App {
    /// An admitted request (the key, the host and the origin checked).
    fn route(&self, method: &str, path: &str, query: &Query, body: &[u8]) -> Answer {
        match (method, path) {
            ("GET", "/api/state") => Answer::json(&self.state()),
            ("GET", "/api/available") => self.reply(self.available()),
            ("GET", "/api/discard") => self.reply(self.discard_preview(query)),
            ("GET", "/api/review") => self.reply(self.review_screen(query)),
            ("GET", "/file") => self.file(query),
            ("GET", "/review-file") => self.review_file(query),
            ("POST", action) => {
                let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
                let text = |key: &str| body.get(key).and_then(Value::as_str).unwrap_or("");
                let result = match action {
                    "/api/save" => self.on_folder(text("folder"), |c, dir| {
                        let message = Some(text("message")).filter(|m| !m.trim().is_empty());
                        c.save(Some(dir), message)
                    }),
                    "/api/sync" => self.on_folder(text("folder"), |c, dir| c.sync(Some(dir))),
                    "/api/get" => {
                        self.get(text("name"), body.get("take_over") == Some(&json!(true)))
                    }
                    "/api/resolve" => self.resolve(text("folder"), text("file"), text("keep")),
                    "/api/discard" => self.on_folder(text("folder"), |c, dir| {
                        let (aside, notes) = c.discard(Some(dir), None)?;
                        // The person confirmed on the page that these
                        // changes go: the copy kept aside goes too.
                        std::fs::remove_dir_all(&aside)?;
                        Ok(notes)
                    }),
                    "/api/share" => self.share(text("folder"), text("person")),
                    "/api/prepare" => self.prepare(&body),
                    "/api/prepared" => self.prepared_action(&body),
                    _ => return Answer::not_found(),
                };
                self.reply(result)
            }
            _ => Answer::not_found(),
        }
    }

    /// An action's answer: its notes, or its error, in the page's words.
    fn reply(&self, result: Result<Value>) -> Answer {
        match result {
            Ok(value) => Answer::json(&value),
            Err(error) => {
                let text = views::page_words(&error.to_string());
                let mut lines: Vec<String> = text
                    .lines()
                    .filter(|line| !line.contains("--take-over"))
                    .map(str::to_string)
                    .collect();
                if let Some(first) = lines.first_mut() {
                    *first = capitalized(first);
                }
                // Only the refusal of a machine's changes never sent offers to take over.
                let never_sent = text.contains("--take-over");
                Answer::json(&json!({"ok": false, "lines": lines, "take_over": never_sent}))
            }
        }
    }

    fn notes(notes: Notes) -> Value {
        let lines: Vec<String> = notes
            .lines
            .iter()
            .map(|line| views::page_words(line))
            .collect();
        json!({"ok": true, "lines": lines})
    }

    fn state(&self) -> Value {
        self.views
            .to_json(&self.client, &self.place, lang::current())
    }

    /// Runs an action on the folder bound at `dir`, then updates its state.
    fn on_folder(
        &self,
        dir: &str,
        action: impl FnOnce(&Client, &Path) -> Result<Notes>,
    ) -> Result<Value> {
        let dir = self.bound_dir(dir)?;
        let result = action(&self.client, &dir);
        views::refresh_one(self, &dir);
        result.map(Self::notes)
    }

    /// `dir` when it is a folder bound here (the page names no other).
    fn bound_dir(&self, dir: &str) -> Result<PathBuf> {
        let registry = Locked::open(&self.client.data_dir)?;
        registry
            .registry
            .folders
            .iter()
            .find(|f| f.dir == Path::new(dir))
            .map(|f| f.dir.clone())
            .ok_or_else(|| Error::usage(tr!("page-not-saved-here", dir = dir)))
    }

    /// The person's folders on the server that are not on this machine.
    fn available(&self) -> Result<Value> {
        let here: Vec<u64> = Locked::open(&self.client.data_dir)?
            .registry
            .folders
            .iter()
            .filter(|f| f.dir.exists())
            .map(|f| f.id)
            .collect();
        let list: Vec<Value> = self
            .client
            .inventory()?
            .into_iter()
            .filter(|p| !here.contains(&p.id))
            .map(
                |p| json!({"name": crate::actions::folder_name(&p), "path": p.path_with_namespace}),
            )
            .collect();
        Ok(json!({"ok": true, "folders": list, "place": self.place}))
    }

    fn get(&self, name: &str, take_over: bool) -> Result<Value> {
        if name.is_empty() {
            return Err(Error::usage(tr!("page-which-folder")));
        }
        // `get` puts the folder in the current directory: the place the
        // page was started in.
        let result = self.client.get(name, None, take_over, &mut |_| {});
        views::refresh_all(self);
        result.map(Self::notes)
    }

    fn resolve(&self, dir: &str, file: &str, keep: &str) -> Result<Value> {
        let dir = self.bound_dir(dir)?;
        let result = if file.is_empty() {
            // The screen opens: bring the server's versions in, list the
            // files that differ.
            self.client.resolve_start(Some(&dir))
        } else {
            let keep = match keep {
                "mine" => Keep::Mine,
                "server" => Keep::Server,
                "both" => Keep::Both,
                _ => return Err(Error::usage(tr!("page-which-keep"))),
            };
            self.client
                .resolve_keep(Some(&dir), keep, &[file.to_string()])
        };
        views::refresh_one(self, &dir);
        let (pending, notes) = result?;
        let mut value = Self::notes(notes);
        value["pending"] = json!(pending);
        Ok(value)
    }

    /// What Discard would throw away.
    fn discard_preview(&self, query: &Query) -> Result<Value> {
        let dir = self.bound_dir(query.get("folder").unwrap_or(""))?;
        let (status, _) = self.client.status(Some(&dir))?;
        let files: Vec<Value> = status
            .unsaved
            .iter()
            .map(|(letter, file)| json!({"what": views::change_words(*letter), "file": file}))
            .collect();
        Ok(json!({"ok": true, "files": files, "version": status.version}))
    }

    fn share(&self, dir: &str, person: &str) -> Result<Value> {
        let dir = self.bound_dir(dir)?;
        let person = person.trim();
        if person.is_empty() {
            return Err(Error::usage(tr!("page-share-whom")));
        }
        let path = Locked::open(&self.client.data_dir)?
            .registry
            .containing(&dir)
            .map(|f| f.path.clone())
            .ok_or_else(|| Error::usage(tr!("page-not-saved")))?;
        self.client.share(&path, person).map(Self::notes)
    }

    /// One of the two versions of a file waiting for a choice: the person's
    /// (in the copy kept aside) or the server's (in the folder now).
    fn file(&self, query: &Query) -> Answer {
        let found = (|| -> Result<(PathBuf, String)> {
            let dir = self.bound_dir(query.get("folder").unwrap_or(""))?;
            let registry = Locked::open(&self.client.data_dir)?;
            let folder = registry
                .registry
                .containing(&dir)
                .ok_or_else(|| Error::usage(tr!("page-not-saved")))?;
            let file = query.get("file").unwrap_or("");
            // Only the files listed for a choice, so no other path can be read.
            if !folder.pending.iter().any(|p| p == file) {
                return Err(Error::usage(tr!("page-not-waiting", file = file)));
            }
            match query.get("side") {
                Some("mine") => folder
                    .aside
                    .clone()
                    .map(|aside| (aside, file.to_string()))
                    .ok_or_else(|| Error::usage(tr!("page-copy-gone"))),
                _ => Ok((folder.dir.clone(), file.to_string())),
            }
        })();
        // Never through a link: see `tree::read`.
        match found.and_then(|(root, file)| crate::tree::read(&root, &file)) {
            Ok(bytes) => Answer::file(query.get("file").unwrap_or(""), bytes),
            Err(error) => Answer::text(404, &views::page_words(&error.to_string())),
        }
    }
}

/// The first word with a capital, unless it is a name: `alice's`,
/// `alice/report`, a path.
/// The page's words in `lang`, as a script the page loads before its own.
fn words_script(lang: Lang) -> Vec<u8> {
    let words = serde_json::Value::Object(lang::page_catalogue(lang));
    format!(
        "'use strict';\nwindow.GIROFLE_WORDS = {words};\ndocument.documentElement.lang = {};\n",
        json!(lang.tag())
    )
    .into_bytes()
}

fn capitalized(text: &str) -> String {
    let first = text.split_whitespace().next().unwrap_or("");
    if !first.chars().all(|c| c.is_ascii_lowercase()) {
        return text.to_string();
    }
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_their_case() {
        assert_eq!(
            capitalized("your changes on laptop-1"),
            "Your changes on laptop-1"
        );
        assert_eq!(
            capitalized("alice's changes on laptop-1"),
            "alice's changes on laptop-1"
        );
        assert_eq!(capitalized("alice/report is here"), "alice/report is here");
        assert_eq!(capitalized("/home/a is missing"), "/home/a is missing");
    }
}
