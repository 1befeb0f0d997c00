//! What `--all` did to each instance, and its exit.

use crate::error::Exit;

/// What happened to one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Its container was made again and this backup restored into it.
    Restored {
        /// The backup restored.
        backup: String,
        /// Where the volumes found in its directory were kept (local mode:
        /// a backup of their own, as every restore keeps what it replaces).
        previous: Option<crate::ops::restore::Previous>,
    },
    /// Its container exists: left alone.
    LeftAlone,
    /// It could not be brought back; why.
    Failed(String),
}

/// One instance of the table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InstanceResult {
    /// Its number.
    pub number: u32,
    /// Its name (empty when none).
    pub name: String,
    /// Its container.
    pub container: String,
    /// Its `external_url`.
    pub url: String,
    /// What happened to it.
    #[serde(flatten)] // its keys are the documents' (`ok`, `result`, …): see `render::restore`
    pub verdict: Verdict,
}

/// What `--all` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AllOutcome {
    /// The state backup put back, when the state was put back.
    pub state: Option<String>,
    /// Every commissioned instance, by number.
    pub instances: Vec<InstanceResult>,
    /// Things the operator must know (a configuration kept aside, say).
    pub warnings: Vec<String>,
}

impl AllOutcome {
    /// Done; partly done (some instances failed); or failed (nothing was done).
    pub fn exit(&self) -> Exit {
        let failed = self
            .instances
            .iter()
            .any(|i| matches!(i.verdict, Verdict::Failed(_)));
        let restored = self
            .instances
            .iter()
            .any(|i| matches!(i.verdict, Verdict::Restored { .. }));
        match (failed, restored || self.state.is_some()) {
            (false, _) => Exit::Done,
            (true, true) => Exit::Partial,
            (true, false) => Exit::Failed,
        }
    }
}
