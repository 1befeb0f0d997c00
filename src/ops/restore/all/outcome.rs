//! What `--all` did to each instance, its exit, and the table it prints.

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
#[derive(Debug, Clone)]
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
    pub verdict: Verdict,
}

/// What `--all` did.
#[derive(Debug, Clone)]
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

/// The table of every instance and its result, for stdout.
pub fn render_table(outcome: &AllOutcome) -> String {
    let header = ["NUMBER", "NAME", "CONTAINER", "URL", "RESULT"];
    let rows: Vec<[String; 5]> = outcome
        .instances
        .iter()
        .map(|i| {
            let result = match &i.verdict {
                Verdict::Restored { backup, .. } => format!("restored {backup}"),
                Verdict::LeftAlone => "left alone: its container exists".to_string(),
                Verdict::Failed(why) => {
                    format!("FAILED: {}", why.lines().next().unwrap_or_default())
                }
            };
            [
                i.number.to_string(),
                if i.name.is_empty() {
                    "-".to_string()
                } else {
                    i.name.clone()
                },
                i.container.clone(),
                i.url.clone(),
                result,
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        let mut text = String::new();
        for (index, cell) in cells.iter().enumerate() {
            if index + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  ", width = widths[index]));
            }
        }
        text.trim_end().to_string() + "\n"
    };
    let mut out = line(header);
    for row in &rows {
        out.push_str(&line([&row[0], &row[1], &row[2], &row[3], &row[4]]));
    }
    out
}
