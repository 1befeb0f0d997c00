//! `girofle-commission --format json`.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::ops::commission::Outcome;

/// The instance commissioned; the document has no error, since a
/// commission that failed prints a [`super::Failure`].
#[derive(Debug, Serialize)]
pub struct Document<'a> {
    /// Always `commission`.
    pub operation: &'static str,
    /// Always 0.
    pub exit_code: u8,
    /// The one instance.
    pub instances: [Instance<'a>; 1],
    /// Always empty.
    pub errors: [String; 0],
    /// Always empty.
    pub warnings: [String; 0],
}

/// The instance as its inventory row records it, with its URL and whether
/// it was waited for. The row's own serialisation is the inventory's CSV,
/// which has more than the contract shows: the keys are picked here.
#[derive(Debug, Serialize)]
pub struct Instance<'a> {
    /// Its number.
    pub number: u32,
    /// Its name (empty when none).
    pub name: &'a str,
    /// Its container.
    pub container: &'a str,
    /// Always true.
    pub ok: bool,
    /// Its `external_url`.
    pub url: &'a str,
    /// The address its ports are published on.
    pub ip: &'a str,
    /// HTTP port.
    pub http_port: Option<u16>,
    /// HTTPS port.
    pub https_port: Option<u16>,
    /// SSH port.
    pub ssh_port: Option<u16>,
    /// The host name of its URL.
    pub hostname: &'a str,
    /// The image it runs.
    pub image: &'a str,
    /// Its directory.
    pub dir: &'a Path,
    /// The cron schedule of its backups.
    pub backup_schedule: &'a str,
    /// Whether it was waited for until healthy.
    pub waited_healthy: bool,
    /// How long the commission took.
    #[serde(serialize_with = "crate::json_fields::millis")]
    pub duration_ms: Duration,
    /// Always null.
    pub error: Option<String>,
}

/// The document of `outcome`, which took `duration`.
pub fn document(outcome: &Outcome, duration: Duration) -> Document<'_> {
    let row = &outcome.row;
    Document {
        operation: "commission",
        exit_code: 0,
        instances: [Instance {
            number: row.number,
            name: &row.name,
            container: &row.container,
            ok: true,
            url: &outcome.url,
            ip: &row.ip,
            http_port: row.http_port,
            https_port: row.https_port,
            ssh_port: row.ssh_port,
            hostname: &row.hostname,
            image: &row.image,
            dir: &row.dir,
            backup_schedule: &row.backup_schedule,
            waited_healthy: outcome.waited,
            duration_ms: duration,
            error: None,
        }],
        errors: [],
        warnings: [],
    }
}

/// One certificate renewed, for stdout (which cron discards).
pub fn renewed(renewed: &crate::ops::commission::renew::Renewed) -> String {
    format!(
        "instance {} ({}): certificate renewed, expires {} (was {}){}",
        renewed.number,
        renewed.container,
        renewed.expires,
        renewed.expired,
        if renewed.reloaded {
            ""
        } else {
            "; the container is not running: it takes it when it starts"
        }
    )
}

/// What stderr says when a commission made Girofle's certificate authority:
/// where its certificate is and how clients come to trust it.
pub fn trust_hint(ca: &Path) -> String {
    let ca = ca.display();
    format!(
        "Girofle's certificate authority was made: {ca}\n\
         Trust it once on each client, for example on Debian:\n  \
         cp {ca} /usr/local/share/ca-certificates/girofle.crt && update-ca-certificates\n\
         or: girofle-client setup --ca-file {ca}; curl --cacert {ca}; git -c http.sslCAInfo={ca}"
    )
}
