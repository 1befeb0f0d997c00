//! Single sign-on for an instance: SAML and OpenID Connect written as
//! GitLab's integration documentation states them, in a file of the
//! instance's config volume that the omnibus configuration loads.
//!
//! The keys and their shape follow, in gitlab-org/gitlab,
//! `doc/integration/saml.md` ("Add the provider configuration", For Omnibus
//! package: `gitlab_rails['omniauth_allow_single_sign_on'] = ['saml']`,
//! `gitlab_rails['omniauth_block_auto_created_users'] = false`, and a
//! provider `{ name: 'saml', args: { assertion_consumer_service_url,
//! idp_cert_fingerprint, idp_sso_target_url, issuer, name_identifier_format } }`)
//! and `doc/administration/auth/oidc.md` (a provider `{ name:
//! 'openid_connect', args: { name, scope, response_type, issuer, discovery,
//! client_auth_method, pkce, client_options: { identifier, secret,
//! redirect_uri } } }`).
//!
//! Where the settings live: `/etc/gitlab/girofle-sso.rb` (the config
//! volume's `girofle-sso.rb`, root 0600), loaded by the container's
//! `GITLAB_OMNIBUS_CONFIG` with `from_file`, the very call the omnibus
//! image's own `/assets/gitlab.rb` makes right after evaluating that
//! variable (`from_file("/etc/gitlab/gitlab.rb")`). The OpenID client
//! secret is in a file of its own beside it (root 0600), read by the
//! settings file at `gitlab-ctl reconfigure` time with `File.read(...).strip`:
//! it never enters the container's environment, docker's command line, the
//! inventory, a plan or a log.
//!
//! Every value is data: written as a Ruby single-quoted string, where only
//! `\\` and `\'` mean anything, after control characters were refused. A
//! quote in a value stays a quote in the value.

use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::atomic;

/// The settings file, in the config volume (`/etc/gitlab` in the container).
pub const SETTINGS_FILE: &str = "girofle-sso.rb";
/// The OpenID Connect client secret, beside it.
pub const OIDC_SECRET_FILE: &str = "girofle-sso-oidc-client-secret";
/// Where the config volume is mounted in the container.
const CONTAINER_CONFIG: &str = "/etc/gitlab";
/// The SAML name identifier format of GitLab's documentation.
pub const NAME_IDENTIFIER_FORMAT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
/// The longest value accepted: URLs and identifiers, not documents.
const MAX_VALUE: usize = 2048;
/// The largest metadata document read.
const MAX_METADATA: u64 = 1 << 20;

/// The single sign-on flags, as given.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Flags {
    /// SAML: the identity provider's metadata (a file, or an https:// URL), from which its sign-in URL and certificate fingerprint are taken
    #[arg(long, value_name = "FILE|URL")]
    pub saml_metadata: Option<String>,
    /// SAML: the identity provider's sign-in URL (https://), instead of --saml-metadata
    #[arg(long, value_name = "URL")]
    pub saml_idp_url: Option<String>,
    /// SAML: the SHA-1 fingerprint of the identity provider's signing certificate (aa:bb:...), instead of --saml-metadata
    #[arg(long, value_name = "FP")]
    pub saml_idp_cert_fingerprint: Option<String>,
    /// SAML: how GitLab names itself to the identity provider [default: the instance's https URL]
    #[arg(long, value_name = "ID")]
    pub saml_issuer: Option<String>,
    /// OpenID Connect: the provider's issuer URL (https://), discovered at <URL>/.well-known/openid-configuration
    #[arg(long, value_name = "URL")]
    pub oidc_issuer: Option<String>,
    /// OpenID Connect: the client identifier registered with the provider
    #[arg(long, value_name = "ID")]
    pub oidc_client_id: Option<String>,
    /// OpenID Connect: a file holding the client secret on one line (root's, mode 0600)
    #[arg(long, value_name = "FILE")]
    pub oidc_client_secret_file: Option<PathBuf>,
}

impl Flags {
    /// Whether any single sign-on flag was given.
    pub fn any(&self) -> bool {
        self.saml_metadata.is_some()
            || self.saml_idp_url.is_some()
            || self.saml_idp_cert_fingerprint.is_some()
            || self.saml_issuer.is_some()
            || self.oidc_issuer.is_some()
            || self.oidc_client_id.is_some()
            || self.oidc_client_secret_file.is_some()
    }
}

/// SAML, validated.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Saml {
    /// `idp_sso_target_url`.
    pub idp_sso_target_url: String,
    /// `idp_cert_fingerprint`: SHA-1, lower-case, colon-separated.
    pub idp_cert_fingerprint: String,
    /// `issuer`; `None` takes the instance's URL.
    pub issuer: Option<String>,
}

/// OpenID Connect, validated. The secret itself is read only when it is
/// written, so that it is in no value that could be printed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Oidc {
    /// `issuer`.
    pub issuer: String,
    /// `client_options.identifier`.
    pub client_id: String,
    /// The file the secret is read from.
    pub secret_file: PathBuf,
}

/// The single sign-on of an instance.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Sso {
    /// SAML, if asked for.
    pub saml: Option<Saml>,
    /// OpenID Connect, if asked for.
    pub oidc: Option<Oidc>,
}

/// Checks the flags; `Ok(None)` when none was given. `tls` says whether the
/// instance serves HTTPS: single sign-on over plain HTTP would hand out
/// sessions to anyone listening, so it is refused. Errors are sentences
/// for a usage error (exit 2): nothing has been made yet.
pub fn validate(flags: &Flags, tls: bool) -> Result<Option<Sso>, String> {
    if !flags.any() {
        return Ok(None);
    }
    if !tls {
        return Err(
            "single sign-on needs --tls: over plain HTTP the sessions it hands out \
                    could be taken by anyone listening on the network"
                .into(),
        );
    }
    let saml = validate_saml(flags)?;
    let oidc = validate_oidc(flags)?;
    Ok(Some(Sso { saml, oidc }))
}

fn validate_saml(flags: &Flags) -> Result<Option<Saml>, String> {
    let issuer = flags
        .saml_issuer
        .as_deref()
        .map(|issuer| check_value("--saml-issuer", issuer).map(|()| issuer.to_string()))
        .transpose()?;
    match (
        &flags.saml_metadata,
        &flags.saml_idp_url,
        &flags.saml_idp_cert_fingerprint,
    ) {
        (None, None, None) => {
            if issuer.is_some() {
                return Err(
                    "--saml-issuer goes with --saml-metadata or --saml-idp-url and \
                     --saml-idp-cert-fingerprint"
                        .into(),
                );
            }
            Ok(None)
        }
        (Some(metadata), None, None) => {
            let (url, fingerprint) = read_metadata(metadata)?;
            check_https("--saml-metadata: the sign-in URL it gives", &url)?;
            Ok(Some(Saml {
                idp_sso_target_url: url,
                idp_cert_fingerprint: fingerprint,
                issuer,
            }))
        }
        (Some(_), _, _) => Err(
            "--saml-metadata replaces --saml-idp-url and --saml-idp-cert-fingerprint: give one or the other"
                .into(),
        ),
        (None, Some(url), Some(fingerprint)) => {
            check_https("--saml-idp-url", url)?;
            Ok(Some(Saml {
                idp_sso_target_url: url.clone(),
                idp_cert_fingerprint: normalise_fingerprint(fingerprint)?,
                issuer,
            }))
        }
        (None, _, _) => Err(
            "SAML needs both --saml-idp-url and --saml-idp-cert-fingerprint (or --saml-metadata)"
                .into(),
        ),
    }
}

fn validate_oidc(flags: &Flags) -> Result<Option<Oidc>, String> {
    match (
        &flags.oidc_issuer,
        &flags.oidc_client_id,
        &flags.oidc_client_secret_file,
    ) {
        (None, None, None) => Ok(None),
        (Some(issuer), Some(client_id), Some(secret_file)) => {
            check_https("--oidc-issuer", issuer)?;
            check_value("--oidc-client-id", client_id)?;
            read_secret(secret_file)?;
            Ok(Some(Oidc {
                issuer: issuer.clone(),
                client_id: client_id.clone(),
                secret_file: secret_file.clone(),
            }))
        }
        _ => Err(
            "OpenID Connect needs --oidc-issuer, --oidc-client-id and --oidc-client-secret-file together"
                .into(),
        ),
    }
}

/// A value written into GitLab's configuration: not empty, not too long,
/// no control character (a newline is where an injection would start, and
/// none of these values has one).
fn check_value(flag: &str, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("{flag}: empty"));
    }
    if value.len() > MAX_VALUE {
        return Err(format!("{flag}: longer than {MAX_VALUE} bytes"));
    }
    if value.chars().any(char::is_control) {
        return Err(format!(
            "{flag}: holds a control character (a newline?); refused"
        ));
    }
    Ok(())
}

/// An `https://` URL with a host, no spaces, no control characters.
fn check_https(flag: &str, url: &str) -> Result<(), String> {
    check_value(flag, url)?;
    let Some(rest) = url.strip_prefix("https://") else {
        return Err(format!(
            "{flag} `{url}`: must be an https:// URL (single sign-on over plain HTTP can be read and altered on the way)"
        ));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.contains('@') {
        return Err(format!(
            "{flag} `{url}`: no host name (or one with a user in it)"
        ));
    }
    if url.contains(char::is_whitespace) {
        return Err(format!("{flag} `{url}`: holds a space"));
    }
    Ok(())
}

/// A SHA-1 fingerprint (the one GitLab's documentation asks for), with or
/// without colons, written lower-case with colons.
pub fn normalise_fingerprint(text: &str) -> Result<String, String> {
    let hex: String = text.chars().filter(|c| *c != ':').collect();
    let well_formed = hex.len() == 40 && hex.chars().all(|c| c.is_ascii_hexdigit());
    let colons_right = !text.contains(':') || text.split(':').all(|pair| pair.len() == 2);
    if !well_formed || !colons_right {
        return Err(format!(
            "--saml-idp-cert-fingerprint `{text}`: not a SHA-1 fingerprint \
             (20 bytes in hexadecimal, such as `openssl x509 -noout -fingerprint -sha1` prints)"
        ));
    }
    let lower = hex.to_ascii_lowercase();
    Ok(lower
        .as_bytes()
        .chunks(2)
        .map(|pair| String::from_utf8_lossy(pair).into_owned())
        .collect::<Vec<_>>()
        .join(":"))
}

/// The OpenID client secret: a regular file owned by root, readable by no
/// one else (0600 or stricter), holding one line.
pub fn read_secret(path: &Path) -> Result<String, String> {
    let shown = path.display();
    // Opened without following a link, then checked on what was opened: a
    // file swapped after the check cannot be the one read.
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(path)
        .map_err(|error| format!("--oidc-client-secret-file {shown}: {error}"))?;
    let metadata = file
        .metadata()
        .map_err(|error| format!("--oidc-client-secret-file {shown}: {error}"))?;
    if !metadata.file_type().is_file() {
        return Err(format!(
            "--oidc-client-secret-file {shown}: not a regular file"
        ));
    }
    if metadata.uid() != 0 {
        return Err(format!(
            "--oidc-client-secret-file {shown}: owned by uid {}, not root: another user could change the secret",
            metadata.uid()
        ));
    }
    if metadata.mode() & 0o077 != 0 {
        return Err(format!(
            "--oidc-client-secret-file {shown}: mode {:04o}; a secret must be readable by root alone (chmod 600)",
            metadata.mode() & 0o7777
        ));
    }
    let mut text = String::new();
    (&mut file)
        .take(MAX_VALUE as u64 + 2)
        .read_to_string(&mut text)
        .map_err(|error| format!("--oidc-client-secret-file {shown}: {error}"))?;
    let secret = text.strip_suffix('\n').unwrap_or(&text);
    let secret = secret.strip_suffix('\r').unwrap_or(secret);
    if secret.trim().is_empty() {
        return Err(format!("--oidc-client-secret-file {shown}: empty"));
    }
    if secret.len() > MAX_VALUE || secret.chars().any(char::is_control) {
        return Err(format!(
            "--oidc-client-secret-file {shown}: not one line of at most {MAX_VALUE} bytes"
        ));
    }
    if secret.trim() != secret {
        // GitLab reads it back with `.strip`: spaces around it would be lost.
        return Err(format!(
            "--oidc-client-secret-file {shown}: spaces around the secret would be lost; remove them"
        ));
    }
    Ok(secret.to_string())
}

/// The identity provider's metadata, from a file or an `https://` URL: the
/// HTTP-Redirect sign-in URL (the binding GitLab's requests use) and the
/// SHA-1 fingerprint of its signing certificate.
fn read_metadata(source: &str) -> Result<(String, String), String> {
    let xml = if source.starts_with("https://") {
        check_https("--saml-metadata", source)?;
        fetch(source).map_err(|error| format!("--saml-metadata {source}: {error:#}"))?
    } else if source.contains("://") {
        return Err(format!(
            "--saml-metadata `{source}`: must be a file or an https:// URL"
        ));
    } else {
        let mut text = String::new();
        std::fs::File::open(source)
            .and_then(|file| file.take(MAX_METADATA).read_to_string(&mut text))
            .map_err(|error| format!("--saml-metadata {source}: {error}"))?;
        text
    };
    parse_metadata(&xml).map_err(|problem| format!("--saml-metadata {source}: {problem}"))
}

fn fetch(url: &str) -> anyhow::Result<String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(20)))
        .https_only(true)
        .build()
        .into();
    let mut response = agent.get(url).call()?;
    Ok(response
        .body_mut()
        .with_config()
        .limit(MAX_METADATA)
        .read_to_string()?)
}

/// The sign-in URL and the certificate fingerprint of SAML metadata.
pub fn parse_metadata(xml: &str) -> Result<(String, String), String> {
    let idp = elements(xml, "IDPSSODescriptor")
        .into_iter()
        .next()
        .ok_or("no IDPSSODescriptor: not the metadata of a SAML identity provider")?
        .1;
    let url = elements(idp, "SingleSignOnService")
        .into_iter()
        .find(|(attributes, _)| {
            attribute(attributes, "Binding").as_deref()
                == Some("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect")
        })
        .and_then(|(attributes, _)| attribute(attributes, "Location"))
        .ok_or("no SingleSignOnService with the HTTP-Redirect binding")?;
    let certificate = elements(idp, "KeyDescriptor")
        .into_iter()
        .filter(|(attributes, _)| {
            attribute(attributes, "use").is_none_or(|usage| usage == "signing")
        })
        .find_map(|(_, inner)| elements(inner, "X509Certificate").into_iter().next())
        .map(|(_, text)| text.split_whitespace().collect::<String>())
        .ok_or("no signing certificate (KeyDescriptor with an X509Certificate)")?;
    let fingerprint = certificate_fingerprint(&certificate)
        .map_err(|error| format!("its signing certificate: {error:#}"))?;
    Ok((url, fingerprint))
}

/// The SHA-1 fingerprint of a base64 DER certificate, by `openssl`.
fn certificate_fingerprint(base64: &str) -> anyhow::Result<String> {
    if base64.is_empty()
        || !base64
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+/=".contains(c))
    {
        anyhow::bail!("not base64");
    }
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in base64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    let file = tempfile::NamedTempFile::new()?;
    fs_err::write(file.path(), pem)?;
    let output = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha1", "-in"])
        .arg(file.path())
        .stdin(std::process::Stdio::null())
        .output()
        .context("cannot run `openssl` (apt-get install openssl)")?;
    if !output.status.success() {
        anyhow::bail!(
            "openssl cannot read it: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let value = text
        .trim()
        .split_once('=')
        .map(|(_, value)| value)
        .context("openssl printed no fingerprint")?;
    normalise_fingerprint(value).map_err(anyhow::Error::msg)
}

/// Elements named `local` (any namespace prefix): their attribute text and
/// their content. Enough for metadata, which holds no CDATA around these.
fn elements<'a>(xml: &'a str, local: &str) -> Vec<(&'a str, &'a str)> {
    let mut found = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        let name_end = rest
            .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .unwrap_or(rest.len());
        let name = &rest[..name_end];
        if name.rsplit(':').next() != Some(local) {
            continue;
        }
        let Some(tag_end) = rest.find('>') else { break };
        let attributes = &rest[name_end..tag_end];
        if attributes.ends_with('/') {
            found.push((attributes.trim_end_matches('/'), ""));
            rest = &rest[tag_end + 1..];
            continue;
        }
        let body = &rest[tag_end + 1..];
        let close = format!("</{name}>");
        let Some(end) = body.find(&close) else { break };
        found.push((attributes, &body[..end]));
        rest = &body[end + close.len()..];
    }
    found
}

fn attribute(attributes: &str, name: &str) -> Option<String> {
    for quote in ['"', '\''] {
        let needle = format!("{name}={quote}");
        let mut search = attributes;
        while let Some(at) = search.find(&needle) {
            let before = search[..at].chars().last();
            let value = &search[at + needle.len()..];
            if before.is_none_or(char::is_whitespace) {
                return value.find(quote).map(|end| unescape_xml(&value[..end]));
            }
            search = &search[at + needle.len()..];
        }
    }
    None
}

fn unescape_xml(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A Ruby single-quoted string literal: inside one, only `\\` and `\'`
/// are escapes, so nothing in the value can end the literal or run code.
pub fn ruby_string(value: &str) -> String {
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The settings file: `external_url` is the instance's https URL (the
/// callbacks are under it).
pub fn settings(sso: &Sso, external_url: &str) -> String {
    let base = external_url.trim_end_matches('/');
    let mut names = Vec::new();
    let mut providers = Vec::new();
    if let Some(saml) = &sso.saml {
        names.push("'saml'");
        providers.push(format!(
            "  {{\n    name: 'saml',\n    args: {{\n      \
             assertion_consumer_service_url: {},\n      \
             idp_cert_fingerprint: {},\n      \
             idp_sso_target_url: {},\n      \
             issuer: {},\n      \
             name_identifier_format: {}\n    }}\n  }}",
            ruby_string(&format!("{base}/users/auth/saml/callback")),
            ruby_string(&saml.idp_cert_fingerprint),
            ruby_string(&saml.idp_sso_target_url),
            ruby_string(saml.issuer.as_deref().unwrap_or(base)),
            ruby_string(NAME_IDENTIFIER_FORMAT),
        ));
    }
    if let Some(oidc) = &sso.oidc {
        names.push("'openid_connect'");
        providers.push(format!(
            "  {{\n    name: 'openid_connect',\n    args: {{\n      \
             name: 'openid_connect',\n      \
             scope: ['openid', 'profile', 'email'],\n      \
             response_type: 'code',\n      \
             issuer: {},\n      \
             discovery: true,\n      \
             client_auth_method: 'basic',\n      \
             pkce: true,\n      \
             client_options: {{\n        \
             identifier: {},\n        \
             secret: File.read({}).strip,\n        \
             redirect_uri: {}\n      }}\n    }}\n  }}",
            ruby_string(&oidc.issuer),
            ruby_string(&oidc.client_id),
            ruby_string(&format!("{CONTAINER_CONFIG}/{OIDC_SECRET_FILE}")),
            ruby_string(&format!("{base}/users/auth/openid_connect/callback")),
        ));
    }
    format!(
        "# Written by girofle-commission: single sign-on, as GitLab's documentation\n\
         # (doc/integration/saml.md, doc/administration/auth/oidc.md) states it.\n\
         # Loaded by GITLAB_OMNIBUS_CONFIG (from_file). The OpenID client secret is\n\
         # read from {CONTAINER_CONFIG}/{OIDC_SECRET_FILE} (root 0600), never written here.\n\
         gitlab_rails['omniauth_allow_single_sign_on'] = [{}]\n\
         gitlab_rails['omniauth_block_auto_created_users'] = false\n\
         gitlab_rails['omniauth_providers'] = [\n{}\n]\n",
        names.join(", "),
        providers.join(",\n")
    )
}

/// The statement of `GITLAB_OMNIBUS_CONFIG` that loads the settings.
pub fn load_statement() -> String {
    format!("from_file '{CONTAINER_CONFIG}/{SETTINGS_FILE}'")
}

/// Whether the config volume `config` holds single sign-on settings.
pub fn configured(config: &Path) -> bool {
    config.join(SETTINGS_FILE).is_file()
}

/// Writes the secret (if any) then the settings into the config volume
/// `config`, each root 0600, atomically. The secret is read again here, with
/// the same checks, so that what is written is what was checked.
pub fn install(config: &Path, sso: &Sso, external_url: &str) -> anyhow::Result<()> {
    if let Some(oidc) = &sso.oidc {
        let secret = read_secret(&oidc.secret_file).map_err(anyhow::Error::msg)?;
        atomic::write(
            &config.join(OIDC_SECRET_FILE),
            format!("{secret}\n").as_bytes(),
            0o600,
        )?;
    }
    atomic::write(
        &config.join(SETTINGS_FILE),
        settings(sso, external_url).as_bytes(),
        0o600,
    )
}

/// The files `install` writes, for a plan.
pub fn files(config: &Path, sso: &Sso) -> Vec<PathBuf> {
    let mut files = vec![config.join(SETTINGS_FILE)];
    if sso.oidc.is_some() {
        files.push(config.join(OIDC_SECRET_FILE));
    }
    files
}

#[cfg(test)]
mod tests;
