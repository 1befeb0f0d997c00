//! A machine's state for a folder, as the server records it: the ref
//! `refs/girofle/machines/<person>/<machine>` points to a commit with an empty
//! tree whose message holds the state as `key: value` lines. GitLab accepts
//! pushes to any ref namespace but its own hidden ones (`refs/merge-requests`,
//! `refs/pipelines`, `refs/environments`, `refs/keep-around`), so this one is
//! stored and served like a branch, without being one.

use time::OffsetDateTime;

/// The ref namespace of the machines' states.
pub const PREFIX: &str = "refs/girofle/machines/";

/// The ref of one machine of one person. The person's user name goes in
/// through [`ref_component`](super::names::ref_component): GitLab allows
/// names (`jo.lock`) that git refuses in a ref.
pub fn machine_ref(person: &str, machine: &str) -> String {
    format!(
        "{PREFIX}{}/{}",
        super::names::ref_component(person),
        super::names::ref_component(machine)
    )
}

/// The ref that asks the machine `machine` of `person` to send its saved
/// changes of the folder: left by a `get` refused because of them, seen by
/// that machine's running service or page at its next check, which sends
/// and removes it.
pub fn request_ref(person: &str, machine: &str) -> String {
    format!(
        "refs/girofle/requests/{}/{}",
        super::names::ref_component(person),
        super::names::ref_component(machine)
    )
}

/// The ref that says a service answering requests runs on that machine
/// (so a refused `get` knows waiting is worth it); removed when it stops.
pub fn listening_ref(person: &str, machine: &str) -> String {
    format!(
        "refs/girofle/listening/{}/{}",
        super::names::ref_component(person),
        super::names::ref_component(machine)
    )
}

/// What a machine's folder is, as last reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Everything there was sent: the folder is at `version`.
    Clean,
    /// Changes there (saved or not) were never sent, since `since`.
    Unsent,
    /// Another machine went on without these changes (`by`); the machine keeps
    /// its work aside when it next runs the client.
    TakenOver,
}

/// One machine's recorded state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineState {
    /// Whose machine.
    pub person: String,
    /// Which machine.
    pub machine: String,
    /// Clean, unsent or taken over.
    pub kind: Kind,
    /// The version the folder was at (or built on).
    pub version: String,
    /// For `Unsent` and `TakenOver`: since when the changes were never sent.
    pub since: Option<OffsetDateTime>,
    /// For `TakenOver`: `person/machine` that took over.
    pub by: Option<String>,
    /// For `TakenOver`: when.
    pub at: Option<OffsetDateTime>,
}

impl MachineState {
    /// The commit message that records the state.
    pub fn to_message(&self) -> String {
        let mut text = String::from("girofle machine state\n\n");
        text.push_str(&format!("person: {}\n", self.person));
        text.push_str(&format!("machine: {}\n", self.machine));
        let kind = match self.kind {
            Kind::Clean => "clean",
            Kind::Unsent => "unsent",
            Kind::TakenOver => "taken-over",
        };
        text.push_str(&format!("state: {kind}\n"));
        text.push_str(&format!("version: {}\n", self.version));
        if let Some(since) = self.since {
            text.push_str(&format!(
                "since: {}\n",
                girofle_base::timefmt::rfc3339(since)
            ));
        }
        if let Some(by) = &self.by {
            text.push_str(&format!("by: {by}\n"));
        }
        if let Some(at) = self.at {
            text.push_str(&format!("at: {}\n", girofle_base::timefmt::rfc3339(at)));
        }
        text
    }

    /// Reads a state back from its commit message; `None` when it is not one.
    pub fn from_message(text: &str) -> Option<MachineState> {
        let mut state = MachineState {
            person: String::new(),
            machine: String::new(),
            kind: Kind::Clean,
            version: String::new(),
            since: None,
            by: None,
            at: None,
        };
        let mut kind_seen = false;
        for line in text.lines() {
            let Some((key, value)) = line.split_once(": ") else {
                continue;
            };
            let value = value.trim();
            match key {
                "person" => state.person = value.into(),
                "machine" => state.machine = value.into(),
                "state" => {
                    kind_seen = true;
                    state.kind = match value {
                        "clean" => Kind::Clean,
                        "unsent" => Kind::Unsent,
                        "taken-over" => Kind::TakenOver,
                        _ => return None,
                    }
                }
                "version" => state.version = value.into(),
                "since" => state.since = parse_time(value),
                "by" => state.by = Some(value.into()),
                "at" => state.at = parse_time(value),
                _ => {}
            }
        }
        (kind_seen && !state.machine.is_empty()).then_some(state)
    }

    /// Whether this state holds changes that never reached the server and
    /// that no one has taken over.
    pub fn blocks(&self) -> bool {
        self.kind == Kind::Unsent
    }
}

fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_round_trip() {
        let at = OffsetDateTime::from_unix_timestamp(1_764_079_500).unwrap();
        let state = MachineState {
            person: "alice".into(),
            machine: "laptop-2".into(),
            kind: Kind::TakenOver,
            version: "abc123".into(),
            since: Some(at),
            by: Some("alice/desk".into()),
            at: Some(at),
        };
        let text = state.to_message();
        assert!(text.contains("state: taken-over\n"), "{text}");
        assert_eq!(MachineState::from_message(&text), Some(state));
        assert_eq!(MachineState::from_message("a commit\n\nhello"), None);
    }

    #[test]
    fn only_unsent_changes_block() {
        let mut state = MachineState::from_message("state: clean\nmachine: m\n").unwrap();
        assert!(!state.blocks());
        state.kind = Kind::Unsent;
        assert!(state.blocks());
        state.kind = Kind::TakenOver;
        assert!(!state.blocks());
        assert_eq!(machine_ref("bob", "pc"), "refs/girofle/machines/bob/pc");
    }
}
