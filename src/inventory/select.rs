//! Which rows the INSTANCE arguments of a command name (a number, a name
//! or a container name), shared by every operation that takes them.

use crate::error::{Error, Result};
use crate::inventory::{self, Row, RowState};

/// The rows `specs` name (or every commissioned one with `all`), checked
/// before anything is done: an unknown or decommissioned instance is exit 2.
pub fn select(rows: &[Row], specs: &[String], all: bool) -> Result<Vec<Row>> {
    if all {
        if !specs.is_empty() {
            return Err(Error::usage("give instances or --all, not both"));
        }
        return Ok(commissioned(rows).cloned().collect());
    }
    if specs.is_empty() {
        return Err(Error::usage(
            "name an instance (number, name or container), or --all",
        ));
    }
    specs
        .iter()
        .map(|spec| {
            let row = inventory::find(rows, spec)
                .ok_or_else(|| Error::usage(format!("no instance `{spec}` in the inventory")))?;
            if row.state == RowState::Decommissioned {
                return Err(Error::usage(format!("instance `{spec}` is decommissioned")));
            }
            Ok(row.clone())
        })
        .collect()
}

/// The rows of instances in service.
pub fn commissioned(rows: &[Row]) -> impl Iterator<Item = &Row> {
    rows.iter().filter(|r| r.state == RowState::Commissioned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<Row> {
        vec![
            Row::example(1, "", RowState::Commissioned),
            Row::example(2, "docs", RowState::Decommissioned),
            Row::example(3, "wiki", RowState::Commissioned),
        ]
    }

    fn numbers(selected: Result<Vec<Row>>) -> Vec<u32> {
        selected.unwrap().iter().map(|row| row.number).collect()
    }

    fn specs(words: &[&str]) -> Vec<String> {
        words.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn an_instance_is_named_by_number_name_or_container() {
        let rows = rows();
        assert_eq!(numbers(select(&rows, &specs(&["1"]), false)), [1]);
        assert_eq!(numbers(select(&rows, &specs(&["wiki"]), false)), [3]);
        assert_eq!(
            numbers(select(
                &rows,
                &specs(&["girofle-gitlab-3-wiki", "1"]),
                false
            )),
            [3, 1]
        );
    }

    #[test]
    fn all_takes_the_commissioned_ones() {
        assert_eq!(numbers(select(&rows(), &[], true)), [1, 3]);
    }

    #[test]
    fn what_cannot_be_backed_up_is_a_usage_error() {
        let rows = rows();
        for (words, all, expected) in [
            (&["7"][..], false, "no instance `7`"),
            (&["docs"][..], false, "is decommissioned"),
            (&["1"][..], true, "not both"),
            (&[][..], false, "or --all"),
        ] {
            match select(&rows, &specs(words), all) {
                Err(Error::Usage(message)) => assert!(message.contains(expected), "{message}"),
                other => panic!("{words:?}: {other:?}"),
            }
        }
    }
}
