//! A decommission plan in an operator's words: the numbered steps that
//! `--dry-run` prints and the terminal shows, in the order they are taken.

use crate::ops::decommission::plan::Plan;

/// The plan's steps, numbered from 1.
pub fn steps(plan: &Plan) -> Vec<String> {
    let mut steps = Vec::new();
    if plan.stop {
        steps.push(format!(
            "stop container {} ({}) and keep it stopped",
            plan.container, plan.status
        ));
    } else {
        steps.push(format!(
            "leave container {} as it is ({})",
            plan.container, plan.status
        ));
    }
    match &plan.final_backup {
        Some(backup) => {
            let copies: Vec<String> = backup
                .copies
                .iter()
                .map(|path| path.display().to_string())
                .collect();
            let linked = match &backup.linked_to {
                Some(previous) => format!(", unchanged files hard-linked into {previous}"),
                None => ", a full copy (no earlier backup)".to_string(),
            };
            steps.push(format!(
                "final backup ({}): copy {} into {}{linked}; retention off, every earlier backup stays",
                backup.consistency.as_str(),
                copies.join(", "),
                backup.into.display()
            ));
        }
        None => steps.push("no final backup (--no-backup)".to_string()),
    }
    if plan.remove_container {
        steps.push(format!("remove container {}", plan.container));
    } else {
        steps.push(format!(
            "no container to remove: the engine has no {}",
            plan.container
        ));
    }
    if plan.cron_entries_removed.is_empty() {
        steps.push("no cron entry to remove".to_string());
    } else {
        let entries: Vec<String> = plan
            .cron_entries_removed
            .iter()
            .map(|path| path.display().to_string())
            .collect();
        steps.push(format!("remove cron entries {}", entries.join(", ")));
    }
    steps.push(format!(
        "mark instance {} {} in the inventory (was {})",
        plan.inventory.number,
        plan.inventory.to.as_str(),
        plan.inventory.from.as_str()
    ));
    let kept: Vec<String> = plan
        .kept
        .iter()
        .map(|path| path.display().to_string())
        .collect();
    steps.push(format!("keep {} on disk", kept.join(" and ")));
    steps
        .into_iter()
        .enumerate()
        .map(|(index, step)| format!("{}. {step}", index + 1))
        .collect()
}

/// The plan as text: a heading, the steps, then the warnings.
pub fn text(plan: &Plan, heading: &str) -> String {
    let who = if plan.name.is_empty() {
        format!("instance {}", plan.number)
    } else {
        format!("instance {} `{}`", plan.number, plan.name)
    };
    let mut text = format!("{heading} {who}:\n");
    for step in steps(plan) {
        text.push_str(&step);
        text.push('\n');
    }
    for warning in &plan.warnings {
        text.push_str(&format!("warning: {warning}\n"));
    }
    text
}
