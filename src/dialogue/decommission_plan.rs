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
            let linked = match &backup.linked_to {
                Some(previous) => format!(", unchanged files hard-linked into {previous}"),
                None => ", a full copy (no earlier backup)".to_string(),
            };
            steps.push(format!(
                "final backup ({}): copy {} into {}{linked}; retention off, every earlier backup stays",
                backup.consistency.as_str(),
                super::backup_plan::copies(&backup.copies),
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

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::inventory::RowState;
    use crate::ops::backup::Consistency;
    use crate::ops::decommission::plan::{FinalBackup, RowChange};

    fn plan() -> Plan {
        let dir = PathBuf::from("/g/noeud-gitlab-3");
        Plan {
            number: 3,
            name: "docs".into(),
            container: "girofle-gitlab-3-docs".into(),
            status: "running",
            stop: true,
            final_backup: Some(FinalBackup {
                consistency: Consistency::Stop,
                copies: vec![dir.join("mapping-volumes/data")],
                into: dir.join("bckups"),
                linked_to: None,
                retention: false,
            }),
            remove_container: true,
            cron_entries_removed: vec![PathBuf::from("/etc/cron.d/girofle-gitlab-3")],
            inventory: RowChange {
                number: 3,
                from: RowState::Commissioned,
                to: RowState::Decommissioned,
            },
            kept: vec![dir.join("mapping-volumes"), dir.join("bckups")],
            warnings: vec!["careful".into()],
        }
    }

    #[test]
    fn the_steps_come_in_the_order_they_are_taken() {
        let steps = steps(&plan());
        assert_eq!(steps.len(), 6);
        assert!(steps[0].starts_with("1. stop container girofle-gitlab-3-docs"));
        assert!(steps[1].starts_with("2. final backup (stop)"));
        assert_eq!(steps[2], "3. remove container girofle-gitlab-3-docs");
        assert_eq!(
            steps[3],
            "4. remove cron entries /etc/cron.d/girofle-gitlab-3"
        );
        assert_eq!(
            steps[4],
            "5. mark instance 3 decommissioned in the inventory (was commissioned)"
        );
        assert!(steps[5].starts_with("6. keep /g/noeud-gitlab-3/mapping-volumes and"));
    }

    #[test]
    fn what_is_skipped_is_said_too() {
        let mut plan = plan();
        plan.stop = false;
        plan.status = "missing";
        plan.final_backup = None;
        plan.remove_container = false;
        plan.cron_entries_removed.clear();
        let steps = steps(&plan);
        assert!(steps[0].contains("leave container"), "{}", steps[0]);
        assert_eq!(steps[1], "2. no final backup (--no-backup)");
        assert!(steps[2].contains("no container to remove"));
        assert_eq!(steps[3], "4. no cron entry to remove");
    }

    #[test]
    fn the_text_names_the_instance_and_ends_with_the_warnings() {
        let text = text(&plan(), "Decommissioning");
        assert!(text.starts_with("Decommissioning instance 3 `docs`:\n1. "));
        assert!(text.ends_with("warning: careful\n"), "{text}");
    }
}
