//! Which instances a backup run takes.

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
pub(super) fn commissioned(rows: &[Row]) -> impl Iterator<Item = &Row> {
    rows.iter().filter(|r| r.state == RowState::Commissioned)
}
