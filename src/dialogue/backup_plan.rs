//! A backup plan in an operator's words: the numbered steps `--dry-run`
//! prints, one line each, in the order a run takes them.

use std::path::PathBuf;

use crate::ops::backup::plan::{InstancePlan, Plan};

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
    let mut step = format!(
        "back up {who}, {}: copy {} into {}{}; {}: {}",
        instance.status,
        copies(&instance.copies),
        instance.into.display(),
        match &instance.linked_to {
            Some(previous) => format!(", unchanged files hard-linked into {previous}"),
            None => ", a full copy (no earlier backup)".to_string(),
        },
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

/// The folders copied, shortly: their names, then the folder they share.
pub fn copies(copies: &[PathBuf]) -> String {
    let names: Vec<String> = copies
        .iter()
        .map(|path| {
            path.file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string())
        })
        .collect();
    match copies.first().and_then(|path| path.parent()) {
        Some(parent) if copies.iter().all(|path| path.parent() == Some(parent)) => {
            format!("{} of {}", names.join(", "), parent.display())
        }
        _ => copies
            .iter()
            .map(|path| path.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::backup::Consistency;
    use crate::ops::backup::plan::{Hold, Shipping, StatePlan};

    fn instance() -> InstancePlan {
        let volumes = PathBuf::from("/g/noeud-gitlab-3/mapping-volumes");
        InstancePlan {
            number: 3,
            name: "docs".into(),
            container: "girofle-gitlab-3-docs".into(),
            status: "running",
            consistency: Consistency::Pause,
            hold: Hold::Freeze,
            why: "frozen for the second pass, never restarted".into(),
            fallback: Some("stop, if GitLab cannot be frozen".into()),
            consistent: true,
            copies: ["config", "data", "log"]
                .iter()
                .map(|v| volumes.join(v))
                .collect(),
            into: PathBuf::from("/g/noeud-gitlab-3/bckups"),
            linked_to: Some("2026-01-02T00-00-00Z".into()),
            keep_last: 2,
            removed_by_retention: vec!["2026-01-01T00-00-00Z".into()],
            problem: None,
        }
    }

    #[test]
    fn each_instance_is_a_backup_step_then_a_retention_step() {
        let plan = Plan {
            instances: vec![instance()],
            state: None,
            shipping: None,
        };
        let steps = steps(&plan);
        assert_eq!(steps.len(), 2);
        assert!(
            steps[0].starts_with("1. back up instance 3 `docs` (girofle-gitlab-3-docs), running"),
            "{}",
            steps[0]
        );
        assert!(
            steps[0].contains("config, data, log of /g/noeud-gitlab-3/mapping-volumes"),
            "{}",
            steps[0]
        );
        assert!(steps[0].contains("hard-linked into 2026-01-02T00-00-00Z"));
        assert!(steps[0].contains("falls back to stop"));
        assert_eq!(
            steps[1],
            "2. retention of instance 3: keep the 2 newest, remove 2026-01-01T00-00-00Z"
        );
    }

    #[test]
    fn the_state_and_the_shipping_come_last() {
        let plan = Plan {
            instances: vec![instance()],
            state: Some(StatePlan {
                into: PathBuf::from("/g/sauvegardes"),
                keep_last: 12,
            }),
            shipping: Some(Shipping {
                target: "off-site".into(),
                host: "host-1".into(),
                instances: vec![3],
                state: true,
                keep_last: 42,
            }),
        };
        let steps = steps(&plan);
        assert!(steps[2].starts_with("3. back up Girofle's state into /g/sauvegardes"));
        assert!(
            steps[3].starts_with(
                "4. ship the complete backups of instance 3 and the state to target `off-site`"
            ),
            "{}",
            steps[3]
        );
    }

    #[test]
    fn an_empty_plan_says_there_is_nothing_to_do() {
        let plan = Plan {
            instances: Vec::new(),
            state: None,
            shipping: None,
        };
        assert_eq!(steps(&plan), ["1. nothing to do"]);
        assert!(text(&plan).contains("dry run: nothing was changed"));
    }

    #[test]
    fn a_problem_is_said_in_the_step() {
        let mut failing = instance();
        failing.problem = Some("/g/noeud-gitlab-3/mapping-volumes does not exist".into());
        failing.linked_to = None;
        let plan = Plan {
            instances: vec![failing],
            state: None,
            shipping: None,
        };
        let step = &steps(&plan)[0];
        assert!(step.contains("WILL FAIL"), "{step}");
        assert!(step.contains("a full copy"), "{step}");
    }
}
