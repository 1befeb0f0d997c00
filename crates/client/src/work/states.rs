//! Machine states: recorded, compared-and-swapped on the server, taken
//! over; and sending versions with them.

use time::OffsetDateTime;

use crate::beneath::Root;
use crate::git::{self};
use crate::session::{Found, Notes};
use crate::state::{self, Kind, MachineState};
use crate::tr;
use girofle_base::error::{Error, Result};

use super::{Local, Pushed, SERVER_MAIN, SERVER_STATES, Work, refusal};

impl Work<'_> {
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
        Err(Error::failed(tr!(
            "send-failed",
            details = all.trim().replace('\n', " / ")
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
            tr!("protected", folder = folder.clone())
        } else {
            tr!(
                "rights-too-low",
                folder = folder.clone(),
                owner = owner,
                me = me.clone()
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
}

#[cfg(test)]
mod tests {
    //! The compare-and-swap of machine states, against a real git server
    //! reached over `file://` (the same push and lease logic as over HTTP).

    use std::path::Path;

    use super::*;
    use crate::config::{Config, Location};
    use crate::folders::{Folder, Locked};
    use crate::session::{Client, Found, Notes};

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
