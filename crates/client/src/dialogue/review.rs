//! What `review` and `prepared` show.

use std::path::Path;

use girofle_base::error::{Exit, Result};

use super::{print, say};
use crate::session::Client;
use crate::tr;

pub(super) fn review(client: &Client, folder: Option<&Path>) -> Result<Exit> {
    let listed = client.review(folder)?;
    if listed.is_empty() {
        return print(&format!("{}\n", tr!("no-change")));
    }
    let mut out = String::new();
    for change in &listed {
        let held = change
            .prepared
            .as_ref()
            .map(|name| format!("   ({})", tr!("in-prepared", name = name.clone())))
            .unwrap_or_default();
        out.push_str(&format!("{:>3}  {}{held}\n", change.number, change.label));
        for (mark, line) in &change.lines {
            out.push_str(&format!("       {mark} {line}\n"));
        }
    }
    out.push_str(&format!("\n{}\n", tr!("how-to-prepare")));
    print(&out)
}

pub(super) fn prepared(
    client: &Client,
    folder: Option<&Path>,
    remove: Option<&str>,
    rename: Option<&[String]>,
    save: bool,
) -> Result<Exit> {
    if let Some(name) = remove {
        return say(client.prepared_remove(folder, name)?);
    }
    if let Some([old, new]) = rename {
        return say(client.prepared_rename(folder, old, new)?);
    }
    if save {
        let (_, notes) = client.prepared_save(folder)?;
        return say(notes);
    }
    let shown = client.prepared(folder)?;
    if shown.is_empty() {
        return print(&format!("{}\n", tr!("no-prepared")));
    }
    let mut out = String::new();
    for (index, version) in shown.iter().enumerate() {
        out.push_str(&format!("{}. {}\n", index + 1, version.name));
        for (label, applies) in &version.holds {
            if *applies {
                out.push_str(&format!("     {label}\n"));
            } else {
                out.push_str(&format!(
                    "     {}\n",
                    tr!("no-longer-applies", label = label.clone())
                ));
            }
        }
    }
    print(&out)
}
