//! The machinery under the actions: one folder being worked on, its history
//! and the server's copy of it, the machine states and their
//! compare-and-swap, and bringing two sides together without losing anything.

use time::OffsetDateTime;

use std::path::{Path, PathBuf};

use crate::beneath::{self, Problem, Root};
use crate::config;
use crate::folders::{Folder, Locked};
use crate::git::{self, Git};
use crate::session::{Client, Found, Notes};
use crate::state::{self, Kind, MachineState};
use crate::tree;
use crate::words;
use girofle_base::error::{Error, Result};

/// Where the server's branch is kept locally.
pub(crate) const SERVER_MAIN: &str = "refs/remotes/origin/main";
/// Where the server's machine states are kept locally.
pub(crate) const SERVER_STATES: &str = "refs/remotes/origin-girofle/machines/";

/// The outcome of pushing to the server.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// The server took it.
    Done,
    /// The server could not be reached.
    Offline,
    /// A machine state moved since it was read (the compare-and-swap lost).
    Stale,
    /// The server has versions this machine lacks.
    Behind,
}

/// One folder being worked on.
pub(crate) struct Work<'a> {
    /// The configured client.
    pub(crate) client: &'a Client,
    /// The folders bound here, locked while the folder is worked on.
    pub(crate) registry: Locked,
    /// This folder's record.
    pub(crate) folder: Folder,
    /// Its history.
    pub(crate) git: Git,
    /// Whether the server answered the last fetch.
    pub(crate) online: bool,
}

/// What this machine has that the server lacks.
pub(crate) struct Local {
    /// Files changed since the last version: a letter and a path.
    pub(crate) unsaved: Vec<(char, String)>,
    /// Versions saved here and not sent.
    pub(crate) unsent: usize,
}

impl Work<'_> {
    /// The folder's address on the server, for git.
    pub(crate) fn url(&self) -> String {
        self.client.url(&self.folder.path)
    }

    /// Fetches the server's branch and machine states; false when offline.
    pub(crate) fn fetch(&mut self) -> Result<bool> {
        let url = self.url();
        let output = self.git.output(&[
            "fetch",
            "--quiet",
            "--prune",
            "--no-tags",
            &url,
            "+refs/heads/*:refs/remotes/origin/*",
            "+refs/girofle/*:refs/remotes/origin-girofle/*",
        ])?;
        if output.ok {
            self.online = true;
            return Ok(true);
        }
        self.online = false;
        if git::is_unreachable(&output.stderr) {
            return Ok(false);
        }
        Err(Error::failed(refusal(&output.stderr, &self.folder.path)))
    }

    /// Every machine's state as last fetched from the server.
    pub(crate) fn server_states(&self) -> Result<Vec<Found>> {
        let text = self.git.run(&[
            "for-each-ref",
            "--format=%(objectname)%00%(refname)%00%(contents)%00%00",
            SERVER_STATES,
        ])?;
        let mut found = Vec::new();
        for record in text.split("\0\0") {
            let record = record.trim_start_matches('\n');
            let mut parts = record.splitn(3, '\0');
            let (Some(commit), Some(local_ref), Some(message)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let Some(state) = MachineState::from_message(message) else {
                continue;
            };
            let reference = format!(
                "{}{}",
                state::PREFIX,
                local_ref.trim_start_matches(SERVER_STATES)
            );
            found.push(Found {
                commit: commit.to_string(),
                reference,
                state,
            });
        }
        Ok(found)
    }

    /// Unsaved changes and versions not sent.
    pub(crate) fn local(&self) -> Result<Local> {
        let text = self.git.run(&[
            "status",
            "--porcelain=v1",
            "-z",
            "--untracked-files=all",
            "--ignored=matching",
        ])?;
        let mut unsaved = Vec::new();
        let mut entries = text.split('\0').filter(|e| !e.is_empty());
        while let Some(entry) = entries.next() {
            if entry.len() < 4 {
                continue;
            }
            let (code, path) = entry.split_at(3);
            let code = code.trim();
            let letter = match code {
                "??" | "!!" => 'N',
                _ if code.contains('D') => 'D',
                _ if code.contains('A') => 'N',
                _ => 'M',
            };
            if code.starts_with('R') || code.starts_with('C') {
                entries.next();
            }
            unsaved.push((letter, path.to_string()));
        }
        let unsent = match (self.git.resolve("HEAD")?, self.git.resolve(SERVER_MAIN)?) {
            (None, _) => 0,
            (Some(_), None) => self
                .git
                .run(&["rev-list", "--count", "HEAD"])?
                .trim()
                .parse()
                .unwrap_or(0),
            (Some(_), Some(_)) => self
                .git
                .run(&["rev-list", "--count", &format!("{SERVER_MAIN}..HEAD")])?
                .trim()
                .parse()
                .unwrap_or(0),
        };
        Ok(Local { unsaved, unsent })
    }

    /// Versions on the server this machine lacks.
    pub(crate) fn server_ahead(&self) -> Result<usize> {
        if self.git.resolve(SERVER_MAIN)?.is_none() {
            return Ok(0);
        }
        let range = if self.git.resolve("HEAD")?.is_some() {
            format!("HEAD..{SERVER_MAIN}")
        } else {
            SERVER_MAIN.to_string()
        };
        Ok(self
            .git
            .run(&["rev-list", "--count", &range])?
            .trim()
            .parse()
            .unwrap_or(0))
    }

    /// Refuses while files wait for the person's choice.
    pub(crate) fn refuse_while_pending(&self) -> Result<()> {
        if self.folder.pending.is_empty() {
            return Ok(());
        }
        Err(Error::usage(format!(
            "{} still {} for your choice: run `girofle-client resolve`",
            words::count(self.folder.pending.len(), "file", "files"),
            if self.folder.pending.len() == 1 {
                "waits"
            } else {
                "wait"
            }
        )))
    }

    /// Refuses a version (`revision`) holding paths git would refuse to
    /// write (a `.git` folder, `..`): they are named to the person, and
    /// nothing of that version is written.
    pub(crate) fn refuse_unwritable(&self, revision: &str) -> Result<()> {
        let listing = self.git.run(&[
            "ls-tree",
            "-r",
            "-z",
            "--full-tree",
            "--name-only",
            revision,
        ])?;
        let refused: Vec<String> = listing
            .split('\0')
            .filter(|p| !p.is_empty())
            .filter_map(|p| beneath::refused_name(p).map(|why| format!("{p} ({why})")))
            .collect();
        if refused.is_empty() {
            return Ok(());
        }
        Err(Error::failed(format!(
            "the server's version of {} holds {} that cannot be put in a folder, so nothing of it \
             was written and your folder is as it was: {}. Ask whoever sent it to remove {}",
            self.folder.path,
            words::count(refused.len(), "file", "files"),
            refused.join(", "),
            if refused.len() == 1 { "it" } else { "them" }
        )))
    }

    /// Saves every file as it is now; returns how many changed.
    pub(crate) fn save_version(&mut self, message: &str) -> Result<usize> {
        self.git.run(&["add", "--all", "--force", "--", ":/"])?;
        let changed = self
            .git
            .run(&["diff", "--cached", "--name-only", "-z"])?
            .split('\0')
            .filter(|p| !p.is_empty())
            .count();
        let first = self.git.resolve("HEAD")?.is_none();
        if changed == 0 && !first {
            return Ok(0);
        }
        self.git
            .run(&["commit", "--quiet", "--allow-empty", "-m", message])?;
        Ok(changed)
    }

    /// The commit recording `state`, with an empty tree.
    pub(crate) fn state_commit(&self, state: &MachineState) -> Result<String> {
        let tree = self.git.run(&["mktree"])?.trim().to_string();
        Ok(self
            .git
            .run(&["commit-tree", &tree, "-m", &state.to_message()])?
            .trim()
            .to_string())
    }

    /// Runs a push and says how it went.
    pub(crate) fn push(&self, args: &[String]) -> Result<Pushed> {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = self.git.output(&refs)?;
        if output.ok {
            return Ok(Pushed::Done);
        }
        let all = format!("{}\n{}", output.stdout, output.stderr);
        if git::is_unreachable(&all) {
            return Ok(Pushed::Offline);
        }
        if all.contains("stale info") {
            return Ok(Pushed::Stale);
        }
        if all.contains("non-fast-forward") || all.contains("fetch first") {
            return Ok(Pushed::Behind);
        }
        if all.contains("not allowed to push code to protected branches") {
            return Err(Error::failed(self.too_low()));
        }
        if git::is_refused(&all) {
            return Err(Error::failed(refusal(&all, &self.folder.path)));
        }
        // Unexpected: the details are for whoever helps the person.
        Err(Error::failed(format!(
            "sending to the server failed (details: {})",
            all.trim().replace('\n', " / ")
        )))
    }

    /// A push GitLab refused because the folder's main copy is protected
    /// (the person is a Developer or less), in plain words: whose rights,
    /// and who can raise them.
    fn too_low(&self) -> String {
        let folder = &self.folder.path;
        let owner = folder.split('/').next().unwrap_or(folder);
        let me = &self.client.config.person;
        if owner == me {
            format!(
                "the server refused your new versions of {folder}: its settings on the server \
                 protect the folder's main copy from you. Your versions are safe on this machine; \
                 an administrator of the server can change that"
            )
        } else {
            format!(
                "the server refused your new versions of {folder}: your rights on this folder are \
                 too low to send versions to it (you may only read it). {owner}, who owns it, can \
                 raise them by sharing the folder with you ({me}) again. Your versions are safe \
                 on this machine meanwhile"
            )
        }
    }

    /// Marks the machines of `blockers` as taken over by this one, all or
    /// none, each only if its state is still the one read (compare-and-swap:
    /// a machine that sent its changes meanwhile makes this fail with
    /// [`Pushed::Stale`]).
    pub(crate) fn take_over(&self, blockers: &[&Found]) -> Result<Pushed> {
        let now = OffsetDateTime::now_utc();
        let config = &self.client.config;
        let by = format!("{}/{}", config.person, config.machine);
        let mut leases = Vec::new();
        let mut updates = Vec::new();
        for found in blockers {
            let mut taken = found.state.clone();
            taken.kind = Kind::TakenOver;
            taken.by = Some(by.clone());
            taken.at = Some(now);
            let commit = self.state_commit(&taken)?;
            let reference = state::machine_ref(&taken.person, &taken.machine);
            leases.push(format!("--force-with-lease={reference}:{}", found.commit));
            updates.push(format!("{commit}:{reference}"));
        }
        let mut args: Vec<String> = vec!["push".into(), "--porcelain".into(), "--atomic".into()];
        args.extend(leases);
        args.push(self.url());
        args.extend(updates);
        self.push(&args)
    }

    /// What this machine's state is now.
    pub(crate) fn current_state(&mut self) -> Result<MachineState> {
        let local = self.local()?;
        let version = self.git.resolve("HEAD")?.unwrap_or_default();
        let clean = local.unsaved.is_empty() && local.unsent == 0;
        let since = if clean {
            self.folder.since = None;
            None
        } else {
            let since = self
                .folder
                .since
                .as_deref()
                .and_then(|s| {
                    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
                })
                .unwrap_or_else(|| self.unsent_since(&local));
            self.folder.since = Some(girofle_base::timefmt::rfc3339(since));
            Some(since)
        };
        Ok(MachineState {
            person: self.client.config.person.clone(),
            machine: self.client.config.machine.clone(),
            kind: if clean { Kind::Clean } else { Kind::Unsent },
            version,
            since,
            by: None,
            at: None,
        })
    }

    /// The oldest of: the first version not sent, the oldest changed file.
    pub(crate) fn unsent_since(&self, local: &Local) -> OffsetDateTime {
        let now = OffsetDateTime::now_utc();
        let mut oldest = now;
        if local.unsent > 0 {
            let range = match self.git.resolve(SERVER_MAIN).ok().flatten() {
                Some(_) => format!("{SERVER_MAIN}..HEAD"),
                None => "HEAD".into(),
            };
            if let Ok(times) = self.git.run(&["log", "--format=%ct", &range]) {
                for t in times.lines().filter_map(|t| t.trim().parse::<i64>().ok()) {
                    if let Ok(at) = OffsetDateTime::from_unix_timestamp(t) {
                        oldest = oldest.min(at);
                    }
                }
            }
        }
        let Ok(here) = Root::open(&self.folder.dir) else {
            return oldest;
        };
        for (_, path) in &local.unsaved {
            if let Ok(Some(meta)) = here.meta(path) {
                oldest = oldest.min(OffsetDateTime::from(meta.modified));
            }
        }
        oldest
    }

    /// Records this machine's state on the server when it changed (and the
    /// server can be reached); the branch too when `with_versions`.
    pub(crate) fn send(&mut self, with_versions: bool) -> Result<Pushed> {
        let state = self.current_state()?;
        let mut state = state;
        if with_versions {
            // What is sent with the versions is clean by definition, unless
            // unsaved changes remain.
            if self.local()?.unsaved.is_empty() {
                state.kind = Kind::Clean;
                state.since = None;
                self.folder.since = None;
            }
        }
        let commit = self.state_commit(&state)?;
        let my_ref = self.client.my_ref();
        let expected = self.folder.written.clone().unwrap_or_default();
        let mut args: Vec<String> = vec![
            "push".into(),
            "--porcelain".into(),
            "--atomic".into(),
            format!("--force-with-lease={my_ref}:{expected}"),
            self.url(),
            format!("{commit}:{my_ref}"),
        ];
        if with_versions {
            args.push("HEAD:refs/heads/main".into());
        }
        let pushed = self.push(&args)?;
        if pushed == Pushed::Done {
            self.folder.written = Some(commit.clone());
            if with_versions {
                self.git.run(&["update-ref", SERVER_MAIN, "HEAD"])?;
            }
            let local_state_ref = format!(
                "{SERVER_STATES}{}",
                my_ref.trim_start_matches(state::PREFIX)
            );
            self.git.run(&["update-ref", &local_state_ref, &commit])?;
        }
        self.registry.put(self.folder.clone())?;
        Ok(pushed)
    }

    /// Records the state on the server if it differs from what is there.
    pub(crate) fn record_state(&mut self, notes: &mut Notes) -> Result<()> {
        let now = self.current_state()?;
        self.registry.put(self.folder.clone())?;
        if !self.online {
            return Ok(());
        }
        let mine = self.client.my_ref();
        let there = self
            .server_states()?
            .into_iter()
            .find(|f| f.reference == mine);
        let same = there.as_ref().is_some_and(|f| {
            f.state.kind == now.kind && f.state.version == now.version && f.state.since == now.since
        }) && there.as_ref().map(|f| &f.commit) == self.folder.written.as_ref();
        if same {
            return Ok(());
        }
        match self.send(false)? {
            Pushed::Done => {}
            Pushed::Offline => self.online = false,
            Pushed::Stale => {
                // The ref moved since it was read: read it again; unless
                // this machine was taken over, try once more.
                let mut more = Notes::default();
                if self.catch_up(&mut more)? {
                    notes.lines.extend(more.lines);
                } else if self.send(false)? == Pushed::Offline {
                    self.online = false;
                }
            }
            Pushed::Behind => {}
        }
        Ok(())
    }

    /// Fetches, and acts on a take-over of this machine. True when the folder
    /// was taken over and its work kept aside (the action should stop: the
    /// notes say what happened).
    pub(crate) fn catch_up(&mut self, notes: &mut Notes) -> Result<bool> {
        if !self.fetch()? {
            return Ok(false);
        }
        let mine = self.client.my_ref();
        let own = self
            .server_states()?
            .into_iter()
            .find(|f| f.reference == mine);
        match own {
            Some(found) if Some(&found.commit) != self.folder.written.as_ref() => {
                if found.state.kind == Kind::TakenOver {
                    let by = found
                        .state
                        .by
                        .clone()
                        .unwrap_or_else(|| "another machine".into());
                    let by = by
                        .strip_prefix(&format!("{}/", self.client.config.person))
                        .map(str::to_string)
                        .unwrap_or(by);
                    let at = found
                        .state
                        .at
                        .map(|at| format!(" at {}", words::when(at)))
                        .unwrap_or_default();
                    notes.say(format!(
                        "{by} took this folder over{at}, without the changes made here."
                    ));
                    self.folder.written = Some(found.commit.clone());
                    self.bring_together(notes)?;
                    return Ok(true);
                }
                self.folder.written = Some(found.commit);
                self.registry.put(self.folder.clone())?;
            }
            Some(_) => {}
            None => {
                if self.folder.written.is_some() {
                    self.folder.written = None;
                    self.registry.put(self.folder.clone())?;
                }
            }
        }
        Ok(false)
    }

    /// Copies the folder aside as it is, brings the server's version in, adds
    /// back the files the server lacks, and leaves the files that differ to
    /// the person's choice.
    pub(crate) fn bring_together(&mut self, notes: &mut Notes) -> Result<()> {
        if self.git.resolve(SERVER_MAIN)?.is_some() {
            self.refuse_unwritable(SERVER_MAIN)?;
        }
        let dir = self.folder.dir.clone();
        let aside = tree::copy_aside(&dir)?;
        notes.say(format!(
            "Your folder as it was is kept in {}.",
            aside.display()
        ));
        if let Some(head) = self.git.resolve("HEAD")? {
            // The versions made here stay in the history too.
            let name = format!(
                "refs/girofle-kept/{}",
                words::stamp(OffsetDateTime::now_utc()).replace(' ', "_")
            );
            self.git.run(&["update-ref", &name, &head])?;
        }
        if self.git.resolve(SERVER_MAIN)?.is_some() {
            self.git.run(&["reset", "--quiet", "--hard", SERVER_MAIN])?;
        }
        let mut added = Vec::new();
        let mut pending = Vec::new();
        // Files that would have to go through a link the server's version
        // put in place of a folder: by link, with where it points.
        let mut blocked: Vec<(String, PathBuf, Vec<String>)> = Vec::new();
        let mut left = Vec::new();
        let mut unplaced = Vec::new();
        let here = Root::open(&dir)?;
        let kept = Root::open(&aside)?;
        for file in tree::files(&aside)? {
            let outcome = match here.meta(&file) {
                Ok(None) => here
                    .copy_from(&kept, &file, &file)
                    .map(|()| added.push(file.clone())),
                Ok(Some(_)) => tree::same(&kept, &here, &file).map(|same| {
                    if !same {
                        pending.push(file.clone());
                    }
                }),
                Err(problem) => Err(problem),
            };
            match outcome {
                Ok(()) => {}
                Err(Problem::Link { root, at, to }) if root == dir => {
                    match blocked.iter_mut().find(|(link, _, _)| *link == at) {
                        Some((_, _, files)) => files.push(file),
                        None => blocked.push((at, to, vec![file])),
                    }
                }
                Err(Problem::Special(_)) => left.push(file),
                // The folder was already reset to the server's version:
                // stopping here would leave the rest of the person's files
                // only in a copy nobody was told of. Each one that cannot be
                // put back is named, with why, and stays in that copy.
                Err(problem) => unplaced.push(format!("{file} ({problem})")),
            }
        }
        if !unplaced.is_empty() {
            notes.say(format!(
                "{} of yours could not be put back in the folder and {} in the copy kept                  aside ({}): {}.",
                words::count(unplaced.len(), "file", "files"),
                if unplaced.len() == 1 { "is" } else { "are" },
                aside.display(),
                unplaced.join("; ")
            ));
        }
        for (link, to, files) in &blocked {
            notes.say(format!(
                "{} of yours {} not put back: in the server's version, {link} is a link to {} \
                 instead of a folder, and nothing is ever written through a link. {} in the copy \
                 kept aside: {}.",
                words::count(files.len(), "file", "files"),
                if files.len() == 1 { "was" } else { "were" },
                to.display(),
                if files.len() == 1 {
                    "It is"
                } else {
                    "They are"
                },
                files.join(", ")
            ));
        }
        if !left.is_empty() {
            notes.say(format!(
                "{} neither files nor links (left in the copy kept aside): {}.",
                if left.len() == 1 {
                    "This is"
                } else {
                    "These are"
                },
                left.join(", ")
            ));
        }
        if !added.is_empty() {
            notes.say(format!(
                "Added back {} the server did not have: {}.",
                words::count(added.len(), "file", "files"),
                added.join(", ")
            ));
        }
        self.folder.aside = Some(aside);
        self.folder.pending = pending;
        self.registry.put(self.folder.clone())?;
        if self.folder.pending.is_empty() {
            self.finish_together(notes)?;
        } else {
            notes.say(format!(
                "{} from the server's: choose for each with `girofle-client resolve` \
                 (yours, the server's, or both): {}",
                words::count(self.folder.pending.len(), "file differs", "files differ"),
                self.folder.pending.join(", ")
            ));
            self.record_state(notes)?;
        }
        Ok(())
    }

    /// Once every choice is made: saves the result, ready to be sent.
    pub(crate) fn finish_together(&mut self, notes: &mut Notes) -> Result<()> {
        let n = self.save_version(&format!(
            "Brought together on {}",
            self.client.config.machine
        ))?;
        if n > 0 {
            notes.say(
                "Every file is chosen; the result is saved. Run `girofle-client sync` to send it.",
            );
        } else {
            notes.say("Every file is chosen; the folder is the server's version.");
        }
        if let Some(aside) = &self.folder.aside {
            notes.say(format!(
                "The copy {} stays; remove it when you no longer need it.",
                aside.display()
            ));
        }
        self.folder.aside = None;
        self.registry.put(self.folder.clone())?;
        self.record_state(notes)
    }
}

/// The server's refusal in plain words (git's and GitLab's own messages
/// speak of repositories and pushes).
fn refusal(message: &str, folder: &str) -> String {
    let text = message.to_ascii_lowercase();
    if text.contains("401")
        || text.contains("authentication failed")
        || text.contains("access denied")
        || text.contains("could not read username")
    {
        "the server refused your access token (it may have expired): make a new one and run \
         `girofle-client setup`"
            .to_string()
    } else if text.contains("not allowed") || text.contains("403") {
        format!("the server refused: you may read {folder} but not send versions to it")
    } else {
        format!(
            "the server refused access to {folder}: it does not exist any more, \
             or it is not shared with you any more"
        )
    }
}

impl Client {
    /// The folder that holds `path` (the current directory by default).
    pub(crate) fn work(&self, path: Option<&Path>) -> Result<Work<'_>> {
        let path = match path {
            Some(path) => config::absolute(path)?,
            None => std::env::current_dir()?,
        };
        let path = path.canonicalize().unwrap_or(path);
        let registry = Locked::open(&self.data_dir)?;
        let folder = registry
            .registry
            .containing(&path)
            .cloned()
            .ok_or_else(|| {
                Error::usage(format!(
                    "{} is not a saved folder: go into one (or name it with --folder), \
                     or make it one with `girofle-client new`",
                    path.display()
                ))
            })?;
        if !folder.dir.is_dir() {
            return Err(Error::failed(format!(
                "the saved folder {} is missing: was it moved or renamed? \
                 Put it back where it was",
                folder.dir.display()
            )));
        }
        let git = self.git(folder.id, &folder.dir);
        Ok(Work {
            client: self,
            registry,
            folder,
            git,
            online: false,
        })
    }
}

#[cfg(test)]
mod tests {
    //! The compare-and-swap of machine states, against a real git server
    //! reached over `file://` (the same push and lease logic as over HTTP).

    use std::path::Path;

    use super::*;
    use crate::config::{Config, Location};

    fn client(root: &Path, machine: &str) -> Client {
        let home = root.join(machine);
        std::fs::create_dir_all(&home).unwrap();
        std::fs::write(home.join("token"), "unused\n").unwrap();
        let location = Location {
            file: home.join("client.toml"),
            explicit: true,
        };
        Config {
            server: format!("file://{}", root.join("server").display()),
            token_file: home.join("token"),
            machine: machine.into(),
            person: "alice".into(),
            name: "Alice".into(),
            email: "alice@example.org".into(),
            data_dir: None,
            ca_file: None,
        }
        .save(&location)
        .unwrap();
        Client::open(location).unwrap()
    }

    fn work<'a>(client: &'a Client, root: &Path) -> Work<'a> {
        let dir = root.join(format!("{}-folder", client.config.machine));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::create_dir_all(client.data_dir.join("histories")).unwrap();
        let git = client.git(1, &dir);
        git.run(&["init", "--quiet"]).unwrap();
        git.run(&["config", "core.bare", "false"]).unwrap();
        git.run(&["symbolic-ref", "HEAD", "refs/heads/main"])
            .unwrap();
        Work {
            client,
            registry: Locked::open(&client.data_dir).unwrap(),
            folder: Folder {
                id: 1,
                path: "alice/report".into(),
                dir,
                written: None,
                since: None,
                aside: None,
                pending: vec![],
            },
            git,
            online: false,
        }
    }

    #[test]
    fn two_machines_cannot_both_win() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        let server = root.join("server/alice/report.git");
        std::fs::create_dir_all(&server).unwrap();
        let init = duct::cmd!("git", "init", "--quiet", "--bare", &server).run();
        assert!(init.is_ok());
        let (laptop1, laptop2) = (client(root, "laptop-1"), client(root, "laptop-2"));
        let mut one = work(&laptop1, root);
        let mut two = work(&laptop2, root);
        let mut notes = Notes::default();

        std::fs::write(one.folder.dir.join("plan.txt"), "first\n").unwrap();
        one.save_version("first").unwrap();
        assert_eq!(one.send(true).unwrap(), Pushed::Done);
        // laptop-1 changes something and says so.
        std::fs::write(one.folder.dir.join("plan.txt"), "second\n").unwrap();
        assert!(one.fetch().unwrap());
        one.record_state(&mut notes).unwrap();

        // laptop-2 reads that state...
        assert!(two.fetch().unwrap());
        let states = two.server_states().unwrap();
        let blockers: Vec<&Found> = states.iter().filter(|f| f.state.blocks()).collect();
        assert_eq!(blockers.len(), 1);
        assert_eq!(blockers[0].state.machine, "laptop-1");
        // ...laptop-1 sends its changes meanwhile...
        one.save_version("second").unwrap();
        assert_eq!(one.send(true).unwrap(), Pushed::Done);
        // ...so laptop-2's take-over, built on what it read, loses.
        assert_eq!(two.take_over(&blockers).unwrap(), Pushed::Stale);
        assert!(two.fetch().unwrap());
        assert!(
            two.server_states()
                .unwrap()
                .iter()
                .all(|f| !f.state.blocks())
        );

        // The other way round: laptop-2 takes over first, and laptop-1's
        // sending, built on its own last state, loses.
        std::fs::write(one.folder.dir.join("plan.txt"), "third\n").unwrap();
        assert!(one.fetch().unwrap());
        one.record_state(&mut notes).unwrap();
        assert!(two.fetch().unwrap());
        let states = two.server_states().unwrap();
        let blockers: Vec<&Found> = states.iter().filter(|f| f.state.blocks()).collect();
        assert_eq!(two.take_over(&blockers).unwrap(), Pushed::Done);
        one.save_version("third").unwrap();
        assert_eq!(one.send(true).unwrap(), Pushed::Stale);
        let main = duct::cmd!("git", "--git-dir", &server, "show", "main:plan.txt")
            .read()
            .unwrap();
        assert_eq!(main, "second", "the server kept what it had");
        // laptop-1 learns of it when it catches up, and keeps its work aside.
        assert!(one.catch_up(&mut notes).unwrap());
        let aside = one.folder.aside.clone().expect("a dated copy");
        assert_eq!(
            std::fs::read_to_string(aside.join("plan.txt")).unwrap(),
            "third\n"
        );
        assert!(
            notes
                .lines
                .iter()
                .any(|l| l.contains("laptop-2 took this folder over"))
        );
    }
}
