//! A backup plan in an operator's words: the numbered steps `--dry-run`
//! prints, one line each, in the order a run takes them.

use crate::ops::backup::plan::{Hold, InstancePlan, Plan};

/// The plan's steps, numbered from 1; a plan with nothing to do says so.
pub fn steps(plan: &Plan) -> Vec<String> {
    let mut steps = Vec::new();
    for instance in &plan.instances {
        steps.push(backup_step(instance));
        steps.push(retention_step(instance));
    }
    if let Some(state) = &plan.state {
        steps.push(format!(
            "back up Girofle's state into {}, keeping the {} newest",
            state.into.display(),
            state.keep_last
        ));
    }
    if let Some(shipping) = &plan.shipping {
        let instances = if shipping.instances.is_empty() {
            "no instance".to_string()
        } else {
            let numbers: Vec<String> = shipping.instances.iter().map(u32::to_string).collect();
            format!("the complete backups of instance {}", numbers.join(", "))
        };
        steps.push(format!(
            "ship {instances}{} to target `{}` (folder `{}`), keeping the {} newest there",
            if shipping.state { " and the state" } else { "" },
            shipping.target,
            shipping.host,
            shipping.keep_last
        ));
    }
    if steps.is_empty() {
        steps.push("nothing to do".to_string());
    }
    steps
        .into_iter()
        .enumerate()
        .map(|(index, step)| format!("{}. {step}", index + 1))
        .collect()
}

/// The text `--dry-run` prints: a heading, then the steps.
pub fn text(plan: &Plan) -> String {
    let mut text = String::from("girofle-backup plan (dry run: nothing was changed):\n");
    for step in steps(plan) {
        text.push_str(&step);
        text.push('\n');
    }
    text
}

fn backup_step(instance: &InstancePlan) -> String {
    let who = if instance.name.is_empty() {
        format!("instance {} ({})", instance.number, instance.container)
    } else {
        format!(
            "instance {} `{}` ({})",
            instance.number, instance.name, instance.container
        )
    };
    let copies: Vec<String> = instance
        .copies
        .iter()
        .map(|path| path.display().to_string())
        .collect();
    let linked = match &instance.linked_to {
        Some(previous) => format!(", unchanged files hard-linked into {previous}"),
        None => ", a full copy (no earlier backup)".to_string(),
    };
    let hold = match instance.hold {
        Hold::Freeze => "pause",
        Hold::Stop => "stop",
        Hold::None => "no hold",
        Hold::Undecided => "hold undecided",
    };
    let mut step = format!(
        "back up {who}, {}: copy {} into {}{linked}; {} ({hold}): {}",
        instance.status,
        copies.join(", "),
        instance.into.display(),
        instance.consistency.as_str(),
        instance.why
    );
    if let Some(fallback) = &instance.fallback {
        step.push_str(&format!("; falls back to {fallback}"));
    }
    if let Some(problem) = &instance.problem {
        step.push_str(&format!("; WILL FAIL: {problem}"));
    }
    step
}

fn retention_step(instance: &InstancePlan) -> String {
    if instance.removed_by_retention.is_empty() {
        format!(
            "retention of instance {}: keep the {} newest, remove none",
            instance.number, instance.keep_last
        )
    } else {
        format!(
            "retention of instance {}: keep the {} newest, remove {}",
            instance.number,
            instance.keep_last,
            instance.removed_by_retention.join(", ")
        )
    }
}
