//! Lists the GitLab instances of a Girofle home with their live state.

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use girofle::cli::{self, Common};
use girofle::error::{Error, Exit};
use girofle::ops::list::{self, Entry};

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Csv,
    Json,
}

/// List GitLab instances with their live status and health
#[derive(Parser)]
#[command(name = "girofle-list", version)]
struct Cli {
    #[command(flatten)]
    common: Common,
    /// Include decommissioned instances
    #[arg(long)]
    all: bool,
    /// Output format
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let home = cli.common.home();
    let result = run(&cli, &home);
    cli::finish("girofle-list", Some(&home), result)
}

fn run(cli: &Cli, home: &girofle::home::Home) -> Result<Exit, Error> {
    let outcome = list::run(home, &list::Args { all: cli.all })?;
    let text = match cli.format {
        Format::Table => table(&outcome.entries),
        Format::Csv => csv_text(&outcome.entries)?,
        Format::Json => {
            serde_json::to_string_pretty(&outcome.entries).map_err(anyhow::Error::from)? + "\n"
        }
    };
    std::io::stdout().write_all(text.as_bytes())?;
    match outcome.engine_error {
        Some(error) => Err(Error::failed(format!(
            "the Docker engine did not answer, status is unknown: {error}"
        ))),
        None => Ok(Exit::Done),
    }
}

fn csv_text(entries: &[Entry]) -> Result<String, Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for entry in entries {
        writer.serialize(entry).map_err(anyhow::Error::from)?;
    }
    if entries.is_empty() {
        return Ok(String::new());
    }
    let bytes = writer
        .into_inner()
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn table(entries: &[Entry]) -> String {
    let header = [
        "NUMBER",
        "NAME",
        "CONTAINER",
        "STATE",
        "STATUS",
        "HEALTH",
        "URL",
        "LAST BACKUP",
        "NOTE",
    ];
    let rows: Vec<[String; 9]> = entries
        .iter()
        .map(|entry| {
            [
                entry.number.to_string(),
                dash(&entry.name),
                entry.container.clone(),
                entry.state.to_string(),
                entry.status.to_string(),
                entry.health.to_string(),
                entry.url.clone(),
                entry.last_backup.clone().unwrap_or_else(|| "-".into()),
                entry.note.clone(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (index, (cell, width)) in cells.iter().zip(widths).enumerate() {
            if index + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  "));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for row in &rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

fn dash(text: &str) -> String {
    if text.is_empty() {
        "-".into()
    } else {
        text.to_string()
    }
}
