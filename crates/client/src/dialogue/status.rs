//! What a saved folder's subcommands show: its status, and the files whose
//! copy the person chooses.

use std::path::Path;

use girofle_base::edge::read_answer;
use girofle_base::error::{Exit, Result};

use super::{KeepArg, interactive, print, say};
use crate::actions::Keep;
use crate::session::Client;
use crate::tr;

fn line(out: &mut String, text: String) {
    out.push_str(&text);
    out.push('\n');
}

pub(super) fn status(client: &Client, folder: Option<&Path>) -> Result<Exit> {
    let (status, notes) = client.status(folder)?;
    say(notes)?;
    let mut out = tr!(
        "status-head",
        dir = status.dir.display().to_string(),
        folder = status.folder.clone(),
        version = status.version
    );
    out.push('\n');
    if status.unsaved.is_empty() {
        line(&mut out, tr!("status-no-unsaved"));
    } else {
        line(
            &mut out,
            tr!("status-unsaved", files = status.unsaved.len()),
        );
        for (letter, path) in &status.unsaved {
            let what = match letter {
                'N' => tr!("file-new"),
                'D' => tr!("file-deleted"),
                _ => tr!("file-changed"),
            };
            out.push_str(&format!("  {what:<8} {path}\n"));
        }
    }
    match status.unsent {
        0 => line(&mut out, tr!("status-all-sent")),
        n => line(&mut out, tr!("status-unsent", versions = n)),
    }
    match status.server_ahead {
        None => line(&mut out, tr!("status-offline")),
        Some(0) => line(&mut out, tr!("status-server-nothing")),
        Some(n) => line(&mut out, tr!("status-server-ahead", versions = n)),
    }
    if !status.pending.is_empty() {
        line(&mut out, tr!("status-pending"));
        for file in &status.pending {
            out.push_str(&format!("  {file}\n"));
        }
    }
    if !status.versions.is_empty() {
        line(&mut out, tr!("status-newest"));
        for (number, when, message) in &status.versions {
            out.push_str(&format!("  {number:>4}  {when:<17} {message}\n"));
        }
    }
    if !status.prepared.is_empty() {
        let names = status
            .prepared
            .iter()
            .map(|name| format!("\"{name}\""))
            .collect::<Vec<_>>()
            .join(", ");
        line(&mut out, tr!("status-prepared", names = names));
    }
    for other in &status.others {
        line(&mut out, tr!("status-other-unsent", what = other.clone()));
    }
    // The one command to run next, last, where the eye lands.
    let ahead = status.server_ahead.unwrap_or(0);
    let changed = !status.unsaved.is_empty() || status.unsent > 0;
    if !status.pending.is_empty() || (ahead > 0 && changed) {
        line(&mut out, tr!("status-then-resolve"));
    } else if changed {
        line(&mut out, tr!("status-then-sync"));
    } else if ahead > 0 {
        line(&mut out, tr!("status-then-bring"));
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
            let answer = read_answer(&format!("{} ", tr!("ask-keep", file = file.clone())))?;
            let answer = answer.to_lowercase();
            // The English letters are understood in every language.
            let keep = if ["m", "mine"].contains(&answer.as_str())
                || answer == tr!("keep-mine-letter")
            {
                Keep::Mine
            } else if ["s", "server"].contains(&answer.as_str())
                || answer == tr!("keep-server-letter")
            {
                Keep::Server
            } else if ["b", "both"].contains(&answer.as_str()) || answer == tr!("keep-both-letter")
            {
                Keep::Both
            } else {
                continue;
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
    eprintln!("{}", tr!("choose-each"));
    Ok(Exit::Done)
}
