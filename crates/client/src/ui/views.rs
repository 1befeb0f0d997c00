//! What the page shows of each folder, kept here and recomputed when a
//! folder changes (the watcher), after an action, and now and then to hear
//! of the server's news. Recomputing a folder's state is `status`, the same
//! function the subcommand calls: it also records this machine's state on the
//! server, which is how a change is reported as soon as it is made.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use notify::{EventKind, RecursiveMode, Watcher};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::App;
use crate::actions::Status;
use crate::folders::{Folder, Locked};
use crate::lang::{self, Lang};
use crate::session::{Client, Notes};
use crate::tr;
use crate::words;
use girofle_base::error::{Error, Result};

/// The folders' views, and a way to wake the watcher's thread.
#[derive(Default)]
pub(super) struct Views {
    inner: Mutex<Inner>,
    wake: Mutex<Option<Sender<Wake>>>,
}

#[derive(Default)]
struct Inner {
    /// Bumped at each change, so that the page redraws only then.
    generation: u64,
    /// Whether the first look at every folder is done.
    ready: bool,
    /// Each folder's view, by its place on this machine.
    folders: BTreeMap<PathBuf, Value>,
}

enum Wake {
    /// Files changed under these paths.
    Changed(Vec<PathBuf>),
    /// The folders bound here may have changed: watch them anew.
    Rewatch,
}

impl Views {
    fn put(&self, dir: &Path, view: Value) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.folders.get(dir) != Some(&view) {
            inner.folders.insert(dir.to_path_buf(), view);
            inner.generation += 1;
        }
    }

    fn keep_only(&self, dirs: &[PathBuf]) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let before = inner.folders.len();
        inner.folders.retain(|dir, _| dirs.contains(dir));
        if !inner.ready || inner.folders.len() != before {
            inner.ready = true;
            inner.generation += 1;
        }
    }

    /// Everything the page shows, in `lang`.
    pub(super) fn to_json(&self, client: &Client, place: &Path, lang: Lang) -> Value {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut folders: Vec<&Value> = inner.folders.values().map(|v| &v[lang.tag()]).collect();
        folders.sort_by_key(|v| v["name"].as_str().unwrap_or("").to_lowercase());
        json!({
            "ready": inner.ready,
            "generation": inner.generation,
            "person": client.config.person,
            "machine": client.config.machine,
            "server": client.config.server,
            "place": place,
            "folders": folders,
        })
    }

    fn wake(&self, wake: Wake) {
        if let Some(sender) = self.wake.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            let _ = sender.send(wake);
        }
    }
}

/// Starts the thread that watches the folders and keeps their views.
pub(super) fn start(app: Arc<App>, refresh: Duration) -> Result<()> {
    let (sender, receiver) = mpsc::channel::<Wake>();
    let events = sender.clone();
    // A link a collaborator committed (`stuff -> /`) is never followed: the
    // folder's own entries are watched, not whatever a link points at.
    let mut watcher = notify::RecommendedWatcher::new(
        move |event: notify::Result<notify::Event>| {
            // Reading a file is no change; everything else may be.
            if let Ok(event) = event
                && !matches!(event.kind, EventKind::Access(_))
            {
                let _ = events.send(Wake::Changed(event.paths));
            }
        },
        notify::Config::default().with_follow_symlinks(false),
    )
    .map_err(|error| Error::failed(tr!("cannot-watch", error = error.to_string())))?;
    *app.views.wake.lock().unwrap_or_else(|e| e.into_inner()) = Some(sender);
    std::thread::spawn(move || {
        // Each folder watched, with the identity of the directory watched:
        // Discard moves the folder aside and makes a new one in its place,
        // which must be watched anew.
        let mut watched: HashMap<PathBuf, (u64, u64)> = HashMap::new();
        let mut rewatch = |watched: &mut HashMap<PathBuf, (u64, u64)>| {
            let dirs: HashMap<PathBuf, (u64, u64)> = bound(&app.client)
                .into_iter()
                .filter_map(|f| {
                    let meta = std::fs::metadata(&f.dir).ok().filter(|m| m.is_dir())?;
                    Some((f.dir, (meta.dev(), meta.ino())))
                })
                .collect();
            watched.retain(|dir, id| {
                let same = dirs.get(dir) == Some(id);
                if !same {
                    let _ = watcher.unwatch(dir);
                }
                same
            });
            for (dir, id) in dirs {
                if !watched.contains_key(&dir)
                    && watcher.watch(&dir, RecursiveMode::Recursive).is_ok()
                {
                    watched.insert(dir, id);
                }
            }
        };
        rewatch(&mut watched);
        refresh_all(&app);
        loop {
            match receiver.recv_timeout(refresh) {
                Ok(Wake::Changed(paths)) => {
                    // Changes come in bursts (an editor writes, renames,
                    // removes): wait for a short quiet, at most two seconds.
                    let mut paths: Vec<PathBuf> = paths;
                    let mut again = false;
                    let until = Instant::now() + Duration::from_secs(2);
                    while Instant::now() < until {
                        match receiver.recv_timeout(Duration::from_millis(250)) {
                            Ok(Wake::Changed(more)) => paths.extend(more),
                            Ok(Wake::Rewatch) => again = true,
                            Err(_) => break,
                        }
                    }
                    if again {
                        rewatch(&mut watched);
                    }
                    for folder in bound(&app.client) {
                        if paths.iter().any(|path| path.starts_with(&folder.dir)) {
                            refresh_folder(&app, &folder, false);
                        }
                    }
                }
                Ok(Wake::Rewatch) => rewatch(&mut watched),
                Err(RecvTimeoutError::Timeout) => {
                    rewatch(&mut watched);
                    refresh_all(&app);
                    // Another machine of the person's asked for this one's
                    // changes (a `get` refused there): what was saved is sent.
                    if app
                        .client
                        .answer_requests(None)
                        .is_ok_and(|notes| !notes.lines.is_empty())
                    {
                        refresh_all(&app);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
    });
    Ok(())
}

/// The folders bound on this machine.
fn bound(client: &Client) -> Vec<Folder> {
    Locked::open(&client.data_dir)
        .map(|locked| locked.registry.folders)
        .unwrap_or_default()
}

/// Looks at every folder again (and watches new ones).
pub(super) fn refresh_all(app: &App) {
    let folders = bound(&app.client);
    for folder in &folders {
        refresh_folder(app, folder, false);
    }
    app.views
        .keep_only(&folders.iter().map(|f| f.dir.clone()).collect::<Vec<_>>());
    app.views.wake(Wake::Rewatch);
}

/// Looks at the folder at `dir` again, after an action of the person's.
pub(super) fn refresh_one(app: &App, dir: &Path) {
    if let Some(folder) = bound(&app.client).into_iter().find(|f| f.dir == dir) {
        refresh_folder(app, &folder, true);
    }
    // The action may have made the folder anew (Discard does).
    app.views.wake(Wake::Rewatch);
}

fn refresh_folder(app: &App, folder: &Folder, acted: bool) {
    let mut view = view_of(&app.client, folder);
    // What the server told of this folder (another machine took it over...)
    // stays on the page until the person acts on the folder.
    if !acted && view["en"]["notes"].as_array().is_none_or(|n| n.is_empty()) {
        let inner = app.views.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = inner.folders.get(&folder.dir) {
            for lang in [Lang::En, Lang::Fr] {
                view[lang.tag()]["notes"] = old[lang.tag()]["notes"].clone();
            }
        }
    }
    app.views.put(&folder.dir, view);
}

/// A folder's view in each language the page speaks, by tag: the folder is
/// looked at once, and its words said in each.
fn view_of(client: &Client, folder: &Folder) -> Value {
    let looked = folder
        .dir
        .exists()
        .then(|| client.status(Some(&folder.dir)));
    let mut views = json!({});
    for lang in [Lang::En, Lang::Fr] {
        views[lang.tag()] = lang::scoped(lang, || said(folder, looked.as_ref()));
    }
    views
}

/// The view of a folder, looked at (`None`: it is not there), in this
/// thread's language. What the actions said (their notes, their errors) is
/// in the language they were said in: the terminal's.
fn said(folder: &Folder, looked: Option<&Result<(Status, Notes)>>) -> Value {
    let name = folder
        .dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| folder.path.clone());
    let mut view = json!({
        "name": name,
        "path": folder.path,
        "dir": folder.dir,
        "checked": words::when(OffsetDateTime::now_utc()),
        "notes": [],
        "unsaved": [],
        "pending": [],
    });
    match looked {
        None => {
            view["state"] = json!("missing");
            view["words"] = json!(tr!("view-missing"));
            view["detail"] = json!([tr!(
                "view-missing-detail",
                dir = folder.dir.display().to_string()
            )]);
        }
        Some(Ok((status, notes))) => {
            let (state, words, detail) = describe(status);
            view["state"] = json!(state);
            view["words"] = json!(words);
            view["detail"] = json!(detail);
            view["version"] = json!(status.version);
            view["unsaved"] = json!(
                status
                    .unsaved
                    .iter()
                    .map(|(letter, file)| json!({"what": change_words(*letter), "file": file}))
                    .collect::<Vec<_>>()
            );
            view["pending"] = json!(status.pending);
            view["notes"] = json!(
                notes
                    .lines
                    .iter()
                    .map(|line| page_words(line))
                    .collect::<Vec<_>>()
            );
        }
        Some(Err(error)) => {
            view["state"] = json!("error");
            view["words"] = json!(tr!("view-error"));
            view["detail"] = json!([page_words(&error.to_string())]);
        }
    }
    view
}

/// The state's name (for the page's colours), its words, and details.
fn describe(status: &Status) -> (&'static str, String, Vec<String>) {
    let mut detail = Vec::new();
    let changed = !status.unsaved.is_empty() || status.unsent > 0;
    if !status.unsaved.is_empty() {
        detail.push(tr!("view-unsaved", files = status.unsaved.len()));
    }
    if status.unsent > 0 {
        detail.push(tr!("view-unsent", versions = status.unsent));
    }
    for other in &status.others {
        detail.push(tr!("status-other-unsent", what = other.clone()));
    }
    if !status.prepared.is_empty() {
        detail.push(tr!("view-prepared", versions = status.prepared.len()));
    }
    let ahead = status.server_ahead.unwrap_or(0);
    let (state, words) = if !status.pending.is_empty() {
        detail.push(tr!("view-differ", files = status.pending.len()));
        ("choices", tr!("view-choices"))
    } else if ahead > 0 && changed {
        detail.push(tr!("view-both-detail"));
        ("both", tr!("view-both"))
    } else if ahead > 0 {
        detail.push(tr!("view-behind-detail", versions = ahead));
        ("behind", tr!("view-behind"))
    } else if !status.unsaved.is_empty() {
        ("unsaved", tr!("view-state-unsaved"))
    } else if status.unsent > 0 {
        ("unsent", tr!("view-state-unsent"))
    } else {
        ("clean", tr!("view-clean"))
    };
    if status.server_ahead.is_none() {
        detail.push(tr!("view-offline"));
    }
    (state, words, detail)
}

/// "new", "deleted" or "changed".
pub(super) fn change_words(letter: char) -> String {
    match letter {
        'N' => tr!("file-new"),
        'D' => tr!("file-deleted"),
        _ => tr!("file-changed"),
    }
}

/// The library's messages name the subcommands; the page has buttons.
/// In the language of the request being answered (the sentences come from
/// the catalogue of that language, and so do their page forms).
pub(super) fn page_words(text: &str) -> String {
    let mut text = text.to_string();
    // The whole phrases first: they hold commands the generic rule would cut.
    for (cli, page) in [
        ("page-cli-until-save", "page-until-save"),
        ("page-cli-remove-with", "page-remove-with"),
        ("page-cli-get-lists", "page-get-lists"),
    ] {
        text = text.replace(&tr!(cli), &tr!(page));
    }
    // `setup` has no button: it stays a command, without its quotes.
    text = text.replace("`girofle-client setup`", "girofle-client setup");
    let press_lower = tr!("page-press", button = "\u{1}");
    for (action, button) in [
        ("resolve", tr!("page-button-resolve")),
        ("sync", tr!("page-button-sync")),
        ("save", tr!("page-button-save")),
        ("discard", tr!("page-button-discard")),
        ("share", tr!("page-button-share")),
        ("status", tr!("page-the-page")),
        ("get", tr!("page-get-title")),
    ] {
        let run = tr!("page-run", action = action);
        let press = press_lower.replace('\u{1}', &button);
        text = text.replace(&capital(&run), &capital(&press));
        text = text.replace(&run, &press);
        text = text.replace(&format!("`girofle-client {action}`"), &button);
    }
    text
}

fn capital(text: &str) -> String {
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
    fn the_page_speaks_of_buttons() {
        assert_eq!(
            page_words(
                "Every file is chosen; the result is saved. Run `girofle-client sync` to send it."
            ),
            "Every file is chosen; the result is saved. Press Sync to send it."
        );
        assert_eq!(
            page_words("2 files differ: choose for each with `girofle-client resolve` (yours)"),
            "2 files differ: choose for each with Resolve (yours)"
        );
        assert_eq!(
            page_words("make a new one and run `girofle-client setup`"),
            "make a new one and run girofle-client setup"
        );
    }

    #[test]
    fn the_page_speaks_of_buttons_in_french_too() {
        lang::scoped(Lang::Fr, || {
            assert_eq!(
                page_words(&tr!("all-chosen-saved")),
                "Chaque fichier est choisi ; le résultat est enregistré. Appuyez sur \
                 Synchroniser pour l'envoyer."
            );
            assert_eq!(
                page_words(&tr!("folder-unchanged-until-save")),
                "Votre dossier ne change pas tant que vous n'avez pas appuyé sur Enregistrer \
                 ces versions."
            );
            assert!(
                page_words(&tr!("no-folder-named", name = "\"x\""))
                    .contains("Récupérer un dossier les énumère")
            );
            assert!(
                page_words(&tr!("stale", changes = 1, which = "x"))
                    .contains("avec son bouton Retirer,")
            );
            assert!(page_words(&tr!("token-refused")).ends_with("lancez girofle-client setup"));
        });
    }

    #[test]
    fn a_view_is_kept_in_each_language() {
        let folder = Folder {
            id: 1,
            path: "alice/report".into(),
            dir: "/nowhere/Report".into(),
            written: None,
            since: None,
            aside: None,
            pending: vec![],
        };
        let client_free = said(&folder, None);
        assert_eq!(client_free["words"], "Not found on this machine");
        let french = lang::scoped(Lang::Fr, || said(&folder, None));
        assert_eq!(french["words"], "Introuvable sur cette machine");
    }
}
