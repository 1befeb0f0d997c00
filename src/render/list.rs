//! `girofle-list`: the listing as an aligned table, CSV, or JSON (the
//! entries' own serialisation: the contract's keys).

use crate::error::Result;
use crate::ops::list::{Entry, Format, age_text};

/// The listing in `format`, ready for stdout.
pub fn render(entries: &[Entry], format: Format) -> Result<String> {
    Ok(match format {
        Format::Table => table(entries),
        Format::Csv => csv_text(entries)?,
        Format::Json => json_text(entries)?,
    })
}

/// The entries' own serialisation, each with `last_backup_shipped`: the
/// targets its newest backup was shipped to (`target`, `kind`, `shipped`,
/// `at`, and `snapshot`, null but on restic), which a CSV row cannot hold.
fn json_text(entries: &[Entry]) -> Result<String> {
    let mut values = Vec::with_capacity(entries.len());
    for entry in entries {
        let mut value = serde_json::to_value(entry).map_err(anyhow::Error::from)?;
        if let Some(object) = value.as_object_mut() {
            object.insert(
                "last_backup_shipped".into(),
                serde_json::to_value(&entry.last_backup_shipped).map_err(anyhow::Error::from)?,
            );
        }
        values.push(value);
    }
    Ok(serde_json::to_string_pretty(&values).map_err(anyhow::Error::from)? + "\n")
}

fn csv_text(entries: &[Entry]) -> Result<String> {
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

const HEADER: [&str; 10] = [
    "NUMBER",
    "NAME",
    "CONTAINER",
    "STATE",
    "STATUS",
    "HEALTH",
    "URL",
    "LAST BACKUP",
    "LAST DRILL",
    "NOTE",
];

fn cells(entry: &Entry) -> [String; 10] {
    [
        entry.number.to_string(),
        dash(&entry.name),
        entry.container.clone(),
        entry.state.to_string(),
        entry.status.to_string(),
        entry.health.to_string(),
        entry.url.clone(),
        last_backup(entry),
        entry.last_drill.unwrap_or("-").to_string(),
        entry.note.clone(),
    ]
}

fn table(entries: &[Entry]) -> String {
    let rows: Vec<[String; 10]> = entries.iter().map(cells).collect();
    let mut widths = HEADER.map(str::len);
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
    line(HEADER.to_vec());
    for row in &rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

/// The last backup, its age, and `STALE` when it is.
fn last_backup(entry: &Entry) -> String {
    let stale = if entry.stale { ", STALE" } else { "" };
    match (&entry.last_backup, entry.last_backup_age_seconds) {
        (Some(id), Some(age)) => format!("{id} ({} ago{stale})", age_text(age)),
        (Some(id), None) => id.clone(),
        (None, _) if entry.stale => "- (STALE)".into(),
        (None, _) => "-".into(),
    }
}

fn dash(text: &str) -> String {
    if text.is_empty() {
        "-".into()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(number: u32, name: &str) -> Entry {
        Entry {
            number,
            name: name.into(),
            container: format!("girofle-gitlab-{number}"),
            state: "commissioned",
            status: "running",
            health: "healthy",
            url: "http://git.example.org:8080".into(),
            ip: "127.0.0.2".into(),
            http_port: Some(8080),
            https_port: Some(8443),
            ssh_port: Some(2222),
            dir: format!("/girofle/noeud-gitlab-{number}"),
            image: "gitlab/gitlab-ce:latest".into(),
            last_backup: None,
            last_backup_age_seconds: None,
            backup_interval_seconds: None,
            stale: false,
            last_drill: None,
            last_backup_shipped: Vec::new(),
            note: String::new(),
            tls: String::new(),
            certificate: None,
        }
    }

    #[test]
    fn the_table_aligns_its_columns_and_dashes_what_is_empty() {
        let text = render(&[entry(1, ""), entry(12, "docs")], Format::Table).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("NUMBER  NAME  CONTAINER"), "{text}");
        assert!(lines[0].contains("LAST BACKUP  LAST DRILL  NOTE"), "{text}");
        assert!(
            lines[1].starts_with("1       -     girofle-gitlab-1 "),
            "{text}"
        );
        assert!(
            lines[2].starts_with("12      docs  girofle-gitlab-12"),
            "{text}"
        );
        let url = lines[0].find("URL").unwrap();
        assert_eq!(lines[2].find("http://").unwrap(), url, "{text}");
    }

    #[test]
    fn csv_and_json_carry_the_contract_keys() {
        let entries = [entry(3, "docs")];
        let csv = render(&entries, Format::Csv).unwrap();
        assert!(
            csv.starts_with("number,name,container,state,status,health,url,ip,http_port"),
            "{csv}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&render(&entries, Format::Json).unwrap()).unwrap();
        assert_eq!(json[0]["number"], 3);
        assert_eq!(json[0]["last_backup"], serde_json::Value::Null);
        assert_eq!(json[0]["last_drill"], serde_json::Value::Null);
        assert!(render(&[], Format::Csv).unwrap().is_empty());
    }
}
