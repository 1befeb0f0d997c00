//! Certificates for `--tls`: Girofle's own small certificate authority in
//! `<home>/tls/`, the certificates it signs for instances, and the checks of
//! a certificate the administrator brings (`--tls own`).
//!
//! Everything goes through Debian's `openssl` command, given its arguments
//! as a list: it is on every host GitLab runs on, it is the tool an operator
//! would use to inspect what Girofle made, and it spares the toolkit a
//! certificate-making crate of its own. Its messages never hold key material,
//! so they may be shown and logged.

use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::atomic;
use crate::home::Home;

/// How an instance gets its certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// A certificate and key the administrator brings (`--cert`, `--key`).
    Own,
    /// A certificate signed by Girofle's own authority in `<home>/tls/`.
    GirofleCa,
    /// A certificate GitLab takes itself from an ACME server (Let's Encrypt
    /// unless `--acme-url` names another), as omnibus' `letsencrypt[...]`.
    Acme,
}

impl Mode {
    /// The word of the command line and of the inventory's `tls` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Own => "own",
            Mode::GirofleCa => "girofle-ca",
            Mode::Acme => "acme",
        }
    }
}

/// How long an instance certificate from Girofle's authority is valid: the
/// longest browsers accept.
pub const INSTANCE_DAYS: u32 = 397;
/// How long Girofle's authority is valid.
pub const CA_DAYS: u32 = 3650;

/// Let's Encrypt's production directory: omnibus' own default for
/// `letsencrypt['acme_production_endpoint']`.
pub const LETS_ENCRYPT_DIRECTORY: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// Where the ACME server's authority goes in the config volume: omnibus
/// links every file of `/etc/gitlab/trusted-certs` into GitLab's trust store.
pub const ACME_CA_FILE: &str = "trusted-certs/acme-ca.crt";

/// GETs the ACME directory at `url` trusting `ca` alone, as GitLab will
/// once `ca` is in its trusted certificates: the answer must be an ACME
/// directory (RFC 8555, section 7.1.1: `newNonce`, `newAccount`,
/// `newOrder`). Tells a mistyped URL or the wrong authority before an
/// instance is made around them.
pub fn probe_acme_directory(ca: &Path, url: &str, timeout: Duration) -> anyhow::Result<()> {
    let agent = agent_trusting(ca, timeout)?;
    let mut response = agent
        .get(url)
        .call()
        .with_context(|| format!("GET {url} trusting {}", ca.display()))?;
    let text = response
        .body_mut()
        .read_to_string()
        .with_context(|| format!("GET {url}"))?;
    let directory: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("GET {url}: the answer is not JSON, not an ACME directory"))?;
    for key in ["newNonce", "newAccount", "newOrder"] {
        if !directory[key].is_string() {
            bail!("GET {url}: the answer has no `{key}`: not an ACME directory");
        }
    }
    Ok(())
}

/// Copies the ACME server's authority to `config/trusted-certs/acme-ca.crt`
/// (0644: a certificate is public), where omnibus trusts it.
pub fn install_acme_ca(config: &Path, ca: &Path) -> anyhow::Result<()> {
    let target = config.join(ACME_CA_FILE);
    let dir = target.parent().expect("a file in trusted-certs/");
    match atomic::create_dir(dir, 0o755, false) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(error) => return Err(error).with_context(|| format!("cannot make {}", dir.display())),
    }
    refuse_link(dir)?;
    atomic::write(&target, &fs_err::read(ca)?, 0o644)?;
    Ok(())
}

/// What is wrong with the file given as an ACME server's authority: it
/// must be a readable PEM certificate.
pub fn check_ca_file(ca: &Path) -> Option<String> {
    if let Err(error) = File::open(ca) {
        return Some(format!("cannot read {}: {error}", ca.display()));
    }
    openssl_text(["x509", "-noout", "-subject", "-in"], ca)
        .err()
        .map(|_| format!("{} is not a PEM certificate", ca.display()))
}

/// `<home>/tls/`.
pub fn dir(home: &Home) -> PathBuf {
    home.root().join("tls")
}

/// `<home>/tls/ca.crt`: the certificate clients are told to trust.
pub fn ca_cert(home: &Home) -> PathBuf {
    dir(home).join("ca.crt")
}

/// `<home>/tls/ca.key`, root's alone (0600).
pub fn ca_key(home: &Home) -> PathBuf {
    dir(home).join("ca.key")
}

/// An instance's certificate and key under its config volume:
/// `config/ssl/<host>.crt` and `.key`, where omnibus looks for them.
pub fn instance_files(config: &Path, host: &str) -> (PathBuf, PathBuf) {
    let ssl = config.join("ssl");
    (
        ssl.join(format!("{host}.crt")),
        ssl.join(format!("{host}.key")),
    )
}

/// Makes Girofle's authority unless it exists; true when it was made now.
/// Under a lock, so that two commissions never make two authorities and keep
/// the certificate of one with the key of the other.
pub fn ensure_ca(home: &Home, host_name: &str) -> anyhow::Result<bool> {
    let dir = dir(home);
    match atomic::create_dir(&dir, 0o750, false) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(error) => return Err(error).with_context(|| format!("cannot make {}", dir.display())),
    }
    let lock = atomic::open_lock_file(&dir.join("ca.lock"))?;
    lock.lock()
        .with_context(|| format!("cannot lock {}/ca.lock", dir.display()))?;
    let (cert, key) = (ca_cert(home), ca_key(home));
    if cert.exists() && key.exists() {
        return Ok(false);
    }
    let scratch = tempfile::Builder::new()
        .prefix(".ca-")
        .tempdir_in(&dir)
        .with_context(|| format!("cannot make a scratch directory in {}", dir.display()))?;
    let (new_cert, new_key) = (scratch.path().join("ca.crt"), scratch.path().join("ca.key"));
    openssl([
        "req".into(),
        "-x509".into(),
        "-new".into(),
        "-newkey".into(),
        "ec".into(),
        "-pkeyopt".into(),
        "ec_paramgen_curve:prime256v1".into(),
        "-nodes".into(),
        "-keyout".into(),
        new_key.clone().into(),
        "-out".into(),
        new_cert.clone().into(),
        "-days".into(),
        CA_DAYS.to_string().into(),
        "-subj".into(),
        format!("/CN=Girofle CA {}", subject_safe(host_name)).into(),
        "-addext".into(),
        "basicConstraints=critical,CA:TRUE,pathlen:0".into(),
        "-addext".into(),
        "keyUsage=critical,keyCertSign,cRLSign".into(),
    ])?;
    set_mode(&new_key, 0o600)?;
    set_mode(&new_cert, 0o644)?;
    // The key first: a certificate present means its key is there too.
    fs_err::rename(&new_key, &key)?;
    fs_err::rename(&new_cert, &cert)?;
    atomic::sync_directory(&dir)?;
    Ok(true)
}

/// Signs a certificate for `host` (and `ip` when it is an address of its
/// own) with Girofle's authority, written into `config/ssl/` (key 0600).
pub fn issue(home: &Home, config: &Path, host: &str, ip: Option<IpAddr>) -> anyhow::Result<()> {
    let (cert, key) = instance_files(config, host);
    let ssl = cert.parent().expect("instance_files names a file in ssl/");
    make_ssl_dir(ssl)?;
    let scratch = tempfile::Builder::new().prefix(".issue-").tempdir_in(ssl)?;
    let (csr, new_cert, new_key) = (
        scratch.path().join("req.csr"),
        scratch.path().join("crt"),
        scratch.path().join("key"),
    );
    openssl([
        "req".into(),
        "-new".into(),
        "-newkey".into(),
        "ec".into(),
        "-pkeyopt".into(),
        "ec_paramgen_curve:prime256v1".into(),
        "-nodes".into(),
        "-keyout".into(),
        new_key.clone().into(),
        "-out".into(),
        csr.clone().into(),
        "-subj".into(),
        format!("/CN={}", subject_safe(host)).into(),
        "-addext".into(),
        format!("subjectAltName={}", alt_names(host, ip)).into(),
        "-addext".into(),
        "basicConstraints=critical,CA:FALSE".into(),
        "-addext".into(),
        "keyUsage=critical,digitalSignature,keyEncipherment".into(),
        "-addext".into(),
        "extendedKeyUsage=serverAuth".into(),
    ])?;
    openssl([
        "x509".into(),
        "-req".into(),
        "-in".into(),
        csr.into(),
        "-CA".into(),
        ca_cert(home).into(),
        "-CAkey".into(),
        ca_key(home).into(),
        "-set_serial".into(),
        random_serial()?.into(),
        "-days".into(),
        INSTANCE_DAYS.to_string().into(),
        "-copy_extensions".into(),
        "copyall".into(),
        "-out".into(),
        new_cert.clone().into(),
    ])?;
    install(&new_cert, &new_key, &cert, &key)
}

/// `subjectAltName` of an instance: its host name (a DNS name, or an IP
/// address when it is one) and the address its ports are published on.
pub fn alt_names(host: &str, ip: Option<IpAddr>) -> String {
    let mut names = vec![match host.parse::<IpAddr>() {
        Ok(address) => format!("IP:{address}"),
        Err(_) => format!("DNS:{host}"),
    }];
    if let Some(ip) = ip.filter(|ip| !ip.is_unspecified() && host.parse() != Ok(*ip)) {
        names.push(format!("IP:{ip}"));
    }
    names.join(",")
}

/// Whether `key` is the private key of `cert` (both readable PEM files).
pub fn pair_matches(cert: &Path, key: &Path) -> bool {
    match (
        openssl_text(["x509", "-noout", "-pubkey", "-in"], cert),
        openssl_text(["pkey", "-pubout", "-in"], key),
    ) {
        (Ok(cert_key), Ok(key_key)) => cert_key == key_key,
        _ => false,
    }
}

/// What is wrong with a certificate and key the administrator brings, for
/// `host`: unreadable, not a certificate, expired, not naming `host`, or a
/// key that is not the certificate's. `None` when they will do.
pub fn check_own(cert: &Path, key: &Path, host: &str) -> Option<String> {
    let shown = |path: &Path| path.display().to_string();
    for path in [cert, key] {
        if let Err(error) = File::open(path) {
            return Some(format!("cannot read {}: {error}", shown(path)));
        }
    }
    let cert_key = match openssl_text(["x509", "-noout", "-pubkey", "-in"], cert) {
        Ok(text) => text,
        Err(_) => return Some(format!("{} is not a PEM certificate", shown(cert))),
    };
    let key_key = match openssl_text(["pkey", "-pubout", "-in"], key) {
        Ok(text) => text,
        Err(_) => return Some(format!("{} is not a PEM private key", shown(key))),
    };
    if cert_key != key_key {
        return Some(format!(
            "the key {} does not belong to the certificate {}",
            shown(key),
            shown(cert)
        ));
    }
    if openssl_text(["x509", "-noout", "-checkend", "0", "-in"], cert).is_err() {
        return Some(format!("the certificate {} has expired", shown(cert)));
    }
    let check = if host.parse::<IpAddr>().is_ok() {
        "-checkip"
    } else {
        "-checkhost"
    };
    match openssl_text(["x509", "-noout", check, host, "-in"], cert) {
        Ok(text) if !text.contains("NOT") && text.contains("does match") => None,
        _ => Some(format!(
            "the certificate {} does not name the host `{host}`",
            shown(cert)
        )),
    }
}

/// Copies a checked certificate and key into `config/ssl/` (key 0600).
pub fn install_own(config: &Path, host: &str, cert: &Path, key: &Path) -> anyhow::Result<()> {
    let (target_cert, target_key) = instance_files(config, host);
    make_ssl_dir(target_cert.parent().expect("a file in ssl/"))?;
    atomic::write(&target_key, &fs_err::read(key)?, 0o600)?;
    atomic::write(&target_cert, &fs_err::read(cert)?, 0o644)?;
    Ok(())
}

/// GETs `https://<address>:<port>/-/health` trusting Girofle's authority
/// alone (`ca`), as a client told to trust it would: the chain, the name
/// (`address`, which the certificate names) and the dates are checked, and
/// the answer must be GitLab's `GitLab OK`. `address` is an IP address or a
/// host name.
pub fn probe_health(ca: &Path, address: &str, port: u16, timeout: Duration) -> anyhow::Result<()> {
    let agent = agent_trusting(ca, timeout)?;
    let host = match address.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => format!("[{v6}]"),
        _ => address.to_string(),
    };
    let url = format!("https://{host}:{port}/-/health");
    let mut response = agent
        .get(&url)
        .call()
        .with_context(|| format!("GET {url} trusting {}", ca.display()))?;
    let body = response.body_mut().read_to_string()?;
    if body.trim() != "GitLab OK" {
        bail!("GET {url}: `{}` instead of `GitLab OK`", body.trim());
    }
    Ok(())
}

/// An HTTP agent that trusts the certificates of `ca` alone and follows
/// no redirect.
fn agent_trusting(ca: &Path, timeout: Duration) -> anyhow::Result<ureq::Agent> {
    use ureq::tls::{PemItem, RootCerts, TlsConfig, parse_pem};
    let pem = fs_err::read(ca)?;
    let roots: Vec<_> = parse_pem(&pem)
        .filter_map(|item| match item {
            Ok(PemItem::Certificate(cert)) => Some(cert),
            _ => None,
        })
        .collect();
    if roots.is_empty() {
        bail!("{} holds no certificate", ca.display());
    }
    Ok(ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .max_redirects(0)
        .tls_config(
            TlsConfig::builder()
                .root_certs(RootCerts::Specific(Arc::new(roots)))
                .build(),
        )
        .build()
        .into())
}

/// Whether the certificate `cert` expires within `within` (or has
/// expired): `openssl x509 -checkend`.
pub fn expires_within(cert: &Path, within: Duration) -> anyhow::Result<bool> {
    let output = Command::new("openssl")
        .args(["x509", "-noout", "-checkend"])
        .arg(within.as_secs().to_string())
        .arg("-in")
        .arg(cert)
        .stdin(Stdio::null())
        .output()
        .context("cannot run `openssl` (apt-get install openssl)")?;
    let said = String::from_utf8_lossy(&output.stdout);
    if said.contains("will not expire") {
        Ok(false)
    } else if said.contains("will expire") {
        Ok(true)
    } else {
        bail!(
            "{} is not a readable PEM certificate: {}",
            cert.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        )
    }
}

/// When the certificate `cert` expires, as openssl says it
/// (`Dec  4 00:30:00 2027 GMT`).
pub fn not_after(cert: &Path) -> anyhow::Result<String> {
    let text = openssl_text(["x509", "-noout", "-enddate", "-in"], cert)?;
    Ok(text
        .trim()
        .strip_prefix("notAfter=")
        .unwrap_or(text.trim())
        .to_string())
}

/// What is wrong with `cert` as a certificate of Girofle's authority `ca`
/// (not signed by it, expired, not yet valid); `None` when it verifies.
pub fn verify_against(ca: &Path, cert: &Path) -> Option<String> {
    let output = Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(ca)
        .arg(cert)
        .stdin(Stdio::null())
        .output();
    match output {
        Ok(output) if output.status.success() => None,
        Ok(output) => Some(
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
            .lines()
            .filter(|line| line.starts_with("error") || line.contains("verification failed"))
            .collect::<Vec<_>>()
            .join("; "),
        ),
        Err(error) => Some(format!("cannot run `openssl`: {error}")),
    }
}

fn install(new_cert: &Path, new_key: &Path, cert: &Path, key: &Path) -> anyhow::Result<()> {
    set_mode(new_key, 0o600)?;
    set_mode(new_cert, 0o644)?;
    fs_err::rename(new_key, key)?;
    fs_err::rename(new_cert, cert)?;
    atomic::sync_directory(cert.parent().expect("a file in ssl/"))
}

fn make_ssl_dir(ssl: &Path) -> anyhow::Result<()> {
    match atomic::create_dir(ssl, 0o755, false) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(error) => return Err(error).with_context(|| format!("cannot make {}", ssl.display())),
    }
    refuse_link(ssl)
}

/// The config volume is written by the container too: a directory of it
/// that became a link would have root write a key wherever it points.
fn refuse_link(dir: &Path) -> anyhow::Result<()> {
    let meta = fs_err::symlink_metadata(dir)?;
    if !meta.file_type().is_dir() {
        bail!(
            "{} is not a directory (a link?): nothing is written through it",
            dir.display()
        );
    }
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> anyhow::Result<()> {
    fs_err::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

/// A serial as RFC 5280 asks: positive, unpredictable, at most 20 bytes.
fn random_serial() -> anyhow::Result<String> {
    let mut bytes = [0u8; 16];
    fs_err::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    Ok(format!(
        "0x{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
}

/// `-subj` takes `/` and `=` as separators: a host name holds neither, but
/// a machine's name is not checked the way `--hostname` is.
fn subject_safe(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_alphanumeric() || ".-_ ".contains(*c))
        .collect()
}

fn openssl_text<const N: usize>(args: [&str; N], file: &Path) -> anyhow::Result<String> {
    let mut all: Vec<OsString> = args.iter().map(OsString::from).collect();
    all.push(file.into());
    let output = openssl(all)?;
    Ok(String::from_utf8_lossy(&output).into_owned())
}

fn openssl(args: impl IntoIterator<Item = OsString>) -> anyhow::Result<Vec<u8>> {
    let args: Vec<OsString> = args.into_iter().collect();
    let output = Command::new("openssl")
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .context("cannot run `openssl` (apt-get install openssl)")?;
    if !output.status.success() {
        bail!(
            "openssl {} failed: {}",
            args.first()
                .map(|a| a.to_string_lossy())
                .unwrap_or_default(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(output.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternative_names_hold_the_host_and_the_published_address() {
        let ip = Some("127.0.0.9".parse().unwrap());
        assert_eq!(
            alt_names("git.example.org", ip),
            "DNS:git.example.org,IP:127.0.0.9"
        );
        assert_eq!(alt_names("127.0.0.9", ip), "IP:127.0.0.9");
        assert_eq!(
            alt_names("git.example.org", Some("0.0.0.0".parse().unwrap())),
            "DNS:git.example.org"
        );
    }

    #[test]
    fn a_made_authority_signs_a_certificate_that_passes_the_own_checks() {
        let temp = tempfile::tempdir().unwrap();
        let home = Home::resolve(Some(temp.path()));
        assert!(ensure_ca(&home, "box").unwrap());
        assert!(!ensure_ca(&home, "box").unwrap());
        let mode = |p: &Path| fs_err::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&ca_key(&home)), 0o600);
        let config = temp.path().join("config");
        fs_err::create_dir(&config).unwrap();
        issue(&home, &config, "git.example.org", "127.0.0.9".parse().ok()).unwrap();
        let (cert, key) = instance_files(&config, "git.example.org");
        assert_eq!(mode(&key), 0o600);
        assert_eq!(check_own(&cert, &key, "git.example.org"), None);
        assert_eq!(check_own(&cert, &key, "127.0.0.9"), None);
        let problem = check_own(&cert, &key, "other.example.org").unwrap();
        assert!(problem.contains("does not name"), "{problem}");
        let problem = check_own(&cert, &ca_key(&home), "git.example.org").unwrap();
        assert!(problem.contains("does not belong"), "{problem}");
        let problem = check_own(&key, &key, "git.example.org").unwrap();
        assert!(problem.contains("not a PEM certificate"), "{problem}");
    }

    #[test]
    fn a_config_volume_whose_ssl_directory_is_a_link_is_not_written_through() {
        let temp = tempfile::tempdir().unwrap();
        let home = Home::resolve(Some(temp.path()));
        ensure_ca(&home, "box").unwrap();
        let config = temp.path().join("config");
        let elsewhere = temp.path().join("elsewhere");
        fs_err::create_dir_all(&config).unwrap();
        fs_err::create_dir_all(&elsewhere).unwrap();
        // The container, root in its volume, put a link where ssl/ goes.
        std::os::unix::fs::symlink(&elsewhere, config.join("ssl")).unwrap();
        let error = issue(&home, &config, "git.example.org", None).unwrap_err();
        assert!(
            format!("{error:#}").contains("not a directory"),
            "{error:#}"
        );
        assert_eq!(fs_err::read_dir(&elsewhere).unwrap().count(), 0);
        std::os::unix::fs::symlink(&elsewhere, config.join("trusted-certs")).unwrap();
        assert!(install_acme_ca(&config, &ca_cert(&home)).is_err());
        assert_eq!(fs_err::read_dir(&elsewhere).unwrap().count(), 0);
    }

    #[test]
    fn expiry_and_verification_are_read_from_the_certificate() {
        let temp = tempfile::tempdir().unwrap();
        let home = Home::resolve(Some(&temp.path().join("home")));
        fs_err::create_dir_all(home.root()).unwrap();
        ensure_ca(&home, "box").unwrap();
        let config = temp.path().join("config");
        fs_err::create_dir(&config).unwrap();
        issue(&home, &config, "git.example.org", None).unwrap();
        let (cert, _) = instance_files(&config, "git.example.org");
        let day = Duration::from_secs(86400);
        assert!(!expires_within(&cert, 30 * day).unwrap());
        assert!(expires_within(&cert, (INSTANCE_DAYS + 1) * day).unwrap());
        assert!(not_after(&cert).unwrap().ends_with("GMT"));
        assert_eq!(verify_against(&ca_cert(&home), &cert), None);
        let other = Home::resolve(Some(&temp.path().join("other")));
        fs_err::create_dir_all(other.root()).unwrap();
        ensure_ca(&other, "elsewhere").unwrap();
        let problem = verify_against(&ca_cert(&other), &cert).unwrap();
        assert!(problem.contains("error"), "{problem}");
        assert!(
            expires_within(&ca_key(&home), day).is_err(),
            "a key is no certificate"
        );
    }

    #[test]
    fn the_health_probe_trusts_the_home_authority_alone() {
        let temp = tempfile::tempdir().unwrap();
        let home = Home::resolve(Some(&temp.path().join("home")));
        fs_err::create_dir_all(home.root()).unwrap();
        ensure_ca(&home, "box").unwrap();
        let config = temp.path().join("config");
        fs_err::create_dir(&config).unwrap();
        issue(&home, &config, "127.0.0.1", None).unwrap();
        let (cert, key) = instance_files(&config, "127.0.0.1");
        // s_server -WWW serves files under its directory: /-/health is ./-/health.
        let www = temp.path().join("www");
        fs_err::create_dir_all(www.join("-")).unwrap();
        fs_err::write(www.join("-/health"), "GitLab OK\n").unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = Command::new("openssl")
            .current_dir(&www)
            .args(["s_server", "-quiet", "-WWW", "-accept"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let timeout = Duration::from_secs(10);
        let trusted = probe_health(&ca_cert(&home), "127.0.0.1", port, timeout);
        let other = Home::resolve(Some(&temp.path().join("other")));
        fs_err::create_dir_all(other.root()).unwrap();
        ensure_ca(&other, "elsewhere").unwrap();
        let untrusted = probe_health(&ca_cert(&other), "127.0.0.1", port, timeout);
        let _ = server.kill();
        let _ = server.wait();
        trusted.unwrap();
        let error = format!("{:#}", untrusted.unwrap_err());
        assert!(error.contains("trusting"), "{error}");
    }
}
