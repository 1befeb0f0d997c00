//! What a saved folder's subcommands show: its status, and the files whose
//! copy the person chooses.

use std::path::Path;

use girofle_base::edge::read_answer;
use girofle_base::error::{Exit, Result};

use super::{KeepArg, interactive, print, say};
use crate::actions::Keep;
use crate::session::Client;
use crate::words;

pub(super) fn status(client: &Client, folder: Option<&Path>) -> Result<Exit> {
    let (status, notes) = client.status(folder)?;
    say(notes)?;
    let mut out = format!(
        "{} ({}), version {}\n",
        status.dir.display(),
        status.folder,
        status.version
    );
    if status.unsaved.is_empty() {
        out.push_str("No unsaved changes.\n");
    } else {
        out.push_str(&format!(
            "Unsaved changes ({}):\n",
            words::count(status.unsaved.len(), "file", "files")
        ));
        for (letter, path) in &status.unsaved {
            let what = match letter {
                'N' => "new",
                'D' => "deleted",
                _ => "changed",
            };
            out.push_str(&format!("  {what:<8} {path}\n"));
        }
    }
    match status.unsent {
        0 => out.push_str("Every saved version is on the server.\n"),
        n => out.push_str(&format!(
            "{} not sent yet.\n",
            words::count(n, "saved version", "saved versions")
        )),
    }
    match status.server_ahead {
        None => out.push_str("The server cannot be reached.\n"),
        Some(0) => out.push_str("The server has nothing this machine lacks.\n"),
        Some(n) => out.push_str(&format!(
            "The server has {} this machine lacks.\n",
            words::count(n, "version", "versions")
        )),
    }
    if !status.pending.is_empty() {
        out.push_str("Waiting for your choice (girofle-client resolve):\n");
        for file in &status.pending {
            out.push_str(&format!("  {file}\n"));
        }
    }
    if !status.versions.is_empty() {
        out.push_str("Newest versions:\n");
        for (number, when, message) in &status.versions {
            out.push_str(&format!("  {number:>4}  {when:<17} {message}\n"));
        }
    }
    if !status.prepared.is_empty() {
        out.push_str(&format!(
            "Prepared ahead, not saved yet (girofle-client prepared): {}.\n",
            status
                .prepared
                .iter()
                .map(|name| format!("\"{name}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for other in &status.others {
        out.push_str(&format!("Not sent yet: {other}.\n"));
    }
    print(&out)
}

pub(super) fn resolve(
    client: &Client,
    folder: Option<&Path>,
    keep: Option<KeepArg>,
    files: &[String],
) -> Result<Exit> {
    let choice = |arg: KeepArg| match arg {
        KeepArg::Mine => Keep::Mine,
        KeepArg::Server => Keep::Server,
        KeepArg::Both => Keep::Both,
    };
    let (mut pending, notes) = match keep {
        Some(arg) => client.resolve_keep(folder, choice(arg), files)?,
        None => client.resolve_start(folder)?,
    };
    say(notes)?;
    if keep.is_none() && interactive() {
        while let Some(file) = pending.first().cloned() {
            let answer = read_answer(&format!(
                "{file} differs. Keep (m)ine, the (s)erver's, or (b)oth? "
            ))?;
            let keep = match answer.to_ascii_lowercase().as_str() {
                "m" | "mine" => Keep::Mine,
                "s" | "server" => Keep::Server,
                "b" | "both" => Keep::Both,
                _ => continue,
            };
            let (rest, notes) = client.resolve_keep(folder, keep, std::slice::from_ref(&file))?;
            say(notes)?;
            pending = rest;
        }
    }
    if pending.is_empty() {
        return Ok(Exit::Done);
    }
    let mut out = String::new();
    for file in &pending {
        out.push_str(&format!("{file}\n"));
    }
    print(&out)?;
    // The job is done: the files to choose are listed, and how to choose.
    eprintln!("Choose for each: girofle-client resolve --keep mine|server|both FILE...");
    Ok(Exit::Done)
}
