//! The page's Review screen: the changes since the last version, sorted
//! into prepared versions, through the same actions as `review`, `prepare`
//! and `prepared` (the folder untouched until Save these versions).

use std::path::Path;

use serde_json::{Value, json};

use super::http::{Answer, Query};
use super::{App, views};
use crate::session::Notes;
use girofle_base::error::{Error, Result};

fn text<'a>(body: &'a Value, key: &str) -> &'a str {
    body.get(key).and_then(Value::as_str).unwrap_or("")
}

fn said(notes: Notes) -> Vec<String> {
    notes.lines.iter().map(|l| views::page_words(l)).collect()
}

impl App {
    /// What the Review screen shows: the changes and the prepared versions.
    pub(super) fn review_screen(&self, query: &Query) -> Result<Value> {
        let dir = self.bound_dir(query.get("folder").unwrap_or(""))?;
        self.review_state(&dir, vec![])
    }

    fn review_state(&self, dir: &Path, lines: Vec<String>) -> Result<Value> {
        let changes = self.client.review(Some(dir))?;
        let prepared = self.client.prepared(Some(dir))?;
        Ok(json!({"ok": true, "lines": lines, "changes": changes, "prepared": prepared}))
    }

    /// Puts the changes the person ticked into a prepared version. The
    /// page names them by number and label: when the folder changed since
    /// the screen was drawn, the numbers may mean other changes, so the
    /// request is refused rather than guessed.
    pub(super) fn prepare(&self, body: &Value) -> Result<Value> {
        let dir = self.bound_dir(text(body, "folder"))?;
        let chosen: Vec<(usize, String)> = body
            .get("changes")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|c| {
                        let number = usize::try_from(c.get("number")?.as_u64()?).ok()?;
                        Some((number, c.get("label")?.as_str()?.to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        if chosen.is_empty() {
            return Err(Error::usage(crate::tr!("page-tick-first")));
        }
        let now = self.client.review(Some(&dir))?;
        let moved = chosen.iter().any(|(number, label)| {
            now.get(number.wrapping_sub(1))
                .is_none_or(|listed| listed.label != *label)
        });
        if moved {
            return Err(Error::failed(crate::tr!("page-changed-meanwhile")));
        }
        let numbers: Vec<usize> = chosen.iter().map(|(n, _)| *n).collect();
        let notes = self
            .client
            .prepare(Some(&dir), text(body, "name"), &numbers)?;
        self.review_state(&dir, said(notes))
    }

    /// Removes, renames or saves the prepared versions.
    pub(super) fn prepared_action(&self, body: &Value) -> Result<Value> {
        let dir = self.bound_dir(text(body, "folder"))?;
        let notes = match text(body, "do") {
            "remove" => self
                .client
                .prepared_remove(Some(&dir), text(body, "name"))?,
            "rename" => {
                self.client
                    .prepared_rename(Some(&dir), text(body, "name"), text(body, "to"))?
            }
            "save" => {
                let result = self.client.prepared_save(Some(&dir));
                views::refresh_one(self, &dir);
                let (_, notes) = result?;
                // The screen's work is done: the folder is at its new versions.
                return Ok(json!({"ok": true, "lines": said(notes), "saved": true}));
            }
            _ => return Err(Error::usage(crate::tr!("page-which-action"))),
        };
        self.review_state(&dir, said(notes))
    }

    /// A whole file of a change, as it was or as it is now (the page opens
    /// it in a tab, as Resolve's files are).
    pub(super) fn review_file(&self, query: &Query) -> Answer {
        let found = (|| -> Result<(String, Vec<u8>)> {
            let dir = self.bound_dir(query.get("folder").unwrap_or(""))?;
            let number = query
                .get("number")
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| Error::usage(crate::tr!("page-which-change")))?;
            self.client
                .review_file(Some(&dir), number, query.get("side") == Some("now"))
        })();
        match found {
            Ok((name, bytes)) => Answer::file(&name, bytes),
            Err(error) => Answer::text(404, &views::page_words(&error.to_string())),
        }
    }
}
