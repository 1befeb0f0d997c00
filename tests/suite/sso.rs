//! `girofle-commission --saml-* / --oidc-*`: single sign-on written as
//! GitLab's documentation states it. The stand-in cannot sign anyone in,
//! so what is tested is what GitLab would receive: the settings file read
//! back from inside the container, parsed as Ruby literals (a parser that
//! knows nothing but literals and the one `File.read(...).strip` call, so
//! that any code smuggled in fails it), compared key by key; refusals that
//! make nothing; the secret absent from the engine's view and the inventory.

use crate::common;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use common::{Scenario, fresh_ip};
use serde_json::{Value, json};

const SECRET: &str = "s3cr3t-'quote\"-never-shown";

/// A Ruby literal: strings ('…' with \\ and \' only), true/false, arrays,
/// hashes with symbol keys, and `File.read('…').strip`. Anything else panics.
struct Ruby<'a> {
    text: &'a [u8],
    at: usize,
}

impl Ruby<'_> {
    fn skip(&mut self) {
        while self.at < self.text.len() {
            match self.text[self.at] {
                b' ' | b'\n' | b'\t' => self.at += 1,
                b'#' => {
                    while self.at < self.text.len() && self.text[self.at] != b'\n' {
                        self.at += 1;
                    }
                }
                _ => break,
            }
        }
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip();
        if self.text[self.at..].starts_with(token.as_bytes()) {
            self.at += token.len();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, token: &str) {
        assert!(
            self.eat(token),
            "`{token}` expected at {}: {}",
            self.at,
            self.rest()
        );
    }

    fn rest(&self) -> String {
        String::from_utf8_lossy(&self.text[self.at..])
            .chars()
            .take(60)
            .collect()
    }

    fn string(&mut self) -> String {
        self.expect("'");
        let mut value = Vec::new();
        loop {
            let byte = *self.text.get(self.at).expect("an unterminated string");
            self.at += 1;
            match byte {
                b'\'' => return String::from_utf8(value).unwrap(),
                b'\\' if matches!(self.text.get(self.at), Some(b'\\' | b'\'')) => {
                    value.push(self.text[self.at]);
                    self.at += 1;
                }
                _ => value.push(byte),
            }
        }
    }

    fn symbol(&mut self) -> String {
        self.skip();
        let start = self.at;
        while self.text[self.at].is_ascii_alphanumeric() || self.text[self.at] == b'_' {
            self.at += 1;
        }
        let name = String::from_utf8(self.text[start..self.at].to_vec()).unwrap();
        assert!(!name.is_empty(), "a key expected: {}", self.rest());
        self.expect(":");
        name
    }

    fn value(&mut self) -> Value {
        self.skip();
        if self.eat("true") {
            return json!(true);
        }
        if self.eat("false") {
            return json!(false);
        }
        if self.eat("File.read(") {
            let path = self.string();
            self.expect(").strip");
            return json!({ "File.read": path });
        }
        if self.eat("[") {
            let mut items = Vec::new();
            while !self.eat("]") {
                items.push(self.value());
                if !self.eat(",") {
                    self.expect("]");
                    break;
                }
            }
            return Value::Array(items);
        }
        if self.eat("{") {
            let mut map = serde_json::Map::new();
            while !self.eat("}") {
                let key = self.symbol();
                map.insert(key, self.value());
                if !self.eat(",") {
                    self.expect("}");
                    break;
                }
            }
            return Value::Object(map);
        }
        Value::String(self.string())
    }

    /// `gitlab_rails['key'] = value` statements, one after another.
    fn settings(text: &str) -> BTreeMap<String, Value> {
        let mut ruby = Ruby {
            text: text.as_bytes(),
            at: 0,
        };
        let mut settings = BTreeMap::new();
        loop {
            ruby.skip();
            if ruby.at == ruby.text.len() {
                return settings;
            }
            ruby.expect("gitlab_rails[");
            let key = ruby.string();
            ruby.expect("]");
            ruby.expect("=");
            let value = ruby.value();
            assert!(settings.insert(key.clone(), value).is_none(), "{key} twice");
        }
    }
}

fn secret_file(dir: &Path, mode: u32) -> std::path::PathBuf {
    let path = dir.join("oidc-secret");
    std::fs::write(&path, format!("{SECRET}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

/// An identity provider's metadata, its certificate made by openssl, and
/// the SHA-1 fingerprint openssl gives for it.
fn metadata(dir: &Path) -> (std::path::PathBuf, String) {
    let run = |args: &[&str]| {
        let output = Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    run(&[
        "req",
        "-x509",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        "idp.key",
        "-out",
        "idp.crt",
        "-days",
        "30",
        "-subj",
        "/CN=idp",
    ]);
    let fingerprint = run(&["x509", "-in", "idp.crt", "-noout", "-fingerprint", "-sha1"]);
    let fingerprint = fingerprint
        .trim()
        .split_once('=')
        .unwrap()
        .1
        .to_ascii_lowercase();
    let pem = std::fs::read_to_string(dir.join("idp.crt")).unwrap();
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let xml = format!(
        r#"<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.example.org/idp">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="encryption"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>AAAA</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>
{body}
    </ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.example.org/sso/post"/>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.org/sso/redirect"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
"#
    );
    let path = dir.join("idp-metadata.xml");
    std::fs::write(&path, xml).unwrap();
    (path, fingerprint)
}

#[test]
fn saml_and_openid_settings_reach_gitlab_as_documented_and_the_secret_stays_in_its_file() {
    let world = Scenario::new();
    let ip = fresh_ip();
    let files = tempfile::tempdir().unwrap();
    let (metadata, fingerprint) = metadata(files.path());
    let secret = secret_file(files.path(), 0o600);
    // A quote, a Ruby interpolation and a backtick: data, never code.
    let issuer = "gitlab'; system('touch /tmp/girofle-pwned'); x = '#{`id`}\\";
    let run = world
        .run(
            "girofle-commission",
            &[
                "--wait-timeout",
                "120",
                "--ip",
                &ip,
                "--hostname",
                &ip,
                "--tls",
                "girofle-ca",
                "--saml-metadata",
                metadata.to_str().unwrap(),
                "--saml-issuer",
                issuer,
                "--oidc-issuer",
                "https://id.example.org/realms/staff",
                "--oidc-client-id",
                "gitlab-'girofle'",
                "--oidc-client-secret-file",
                secret.to_str().unwrap(),
            ],
        )
        .expect_code(0);
    let url = run.stdout.trim().to_string();
    assert!(url.starts_with("https://"), "{url}");
    let container = world.entry(1)["container"].as_str().unwrap().to_string();

    // What GitLab reads: the file at the path from_file names, inside the container.
    let text = common::docker(&["exec", &container, "cat", "/etc/gitlab/girofle-sso.rb"]);
    let settings = Ruby::settings(&text);
    let expected: BTreeMap<String, Value> = [
        ("omniauth_allow_single_sign_on", json!(["saml", "openid_connect"])),
        ("omniauth_block_auto_created_users", json!(false)),
        (
            "omniauth_providers",
            json!([
                {
                    "name": "saml",
                    "args": {
                        "assertion_consumer_service_url": format!("{url}/users/auth/saml/callback"),
                        "idp_cert_fingerprint": fingerprint,
                        "idp_sso_target_url": "https://idp.example.org/sso/redirect",
                        "issuer": issuer,
                        "name_identifier_format": "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
                    }
                },
                {
                    "name": "openid_connect",
                    "args": {
                        "name": "openid_connect",
                        "scope": ["openid", "profile", "email"],
                        "response_type": "code",
                        "issuer": "https://id.example.org/realms/staff",
                        "discovery": true,
                        "client_auth_method": "basic",
                        "pkce": true,
                        "client_options": {
                            "identifier": "gitlab-'girofle'",
                            "secret": { "File.read": "/etc/gitlab/girofle-sso-oidc-client-secret" },
                            "redirect_uri": format!("{url}/users/auth/openid_connect/callback"),
                        }
                    }
                }
            ]),
        ),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_string(), value))
    .collect();
    assert_eq!(settings, expected, "{text}");

    // The environment loads the file, as the omnibus image's own gitlab.rb
    // loads /etc/gitlab/gitlab.rb, and holds no value of it.
    let inspect = common::docker(&["inspect", &container]);
    assert!(
        inspect.contains("from_file '/etc/gitlab/girofle-sso.rb'"),
        "{inspect}"
    );
    assert!(
        !inspect.contains("s3cr3t"),
        "the secret is in docker inspect"
    );
    assert!(
        !inspect.contains("idp.example.org"),
        "SSO values belong in the file"
    );
    let read_back = common::docker(&[
        "exec",
        &container,
        "cat",
        "/etc/gitlab/girofle-sso-oidc-client-secret",
    ]);
    assert_eq!(read_back.trim(), SECRET);
    let config = world.instance_dir(1).join("mapping-volumes/config");
    for name in ["girofle-sso.rb", "girofle-sso-oidc-client-secret"] {
        let meta = std::fs::metadata(config.join(name)).unwrap();
        assert_eq!((meta.mode() & 0o7777, meta.uid()), (0o600, 0), "{name}");
    }
    let inventory = String::from_utf8_lossy(&world.inventory_bytes()).into_owned();
    assert!(!inventory.contains("s3cr3t"), "{inventory}");
    let log = std::fs::read_to_string(world.home.join("girofle.log")).unwrap();
    assert!(!log.contains("s3cr3t"), "{log}");
    assert!(!text.contains("s3cr3t"), "{text}");
    assert!(!Path::new("/tmp/girofle-pwned").exists());

    // The settings and the secret travel in the config volume's backups and
    // come back with a restore, which loads them again.
    let id = world.backup(1, &[]);
    let settings_then = std::fs::read(config.join("girofle-sso.rb")).unwrap();
    for name in ["girofle-sso.rb", "girofle-sso-oidc-client-secret"] {
        std::fs::remove_file(config.join(name)).unwrap();
    }
    let dir = world.entry(1)["dir"].as_str().unwrap().to_string();
    world
        .run(
            "girofle-restore",
            &[&container, &dir, "--backup", &id, "--wait-timeout", "120"],
        )
        .expect_code(0);
    assert_eq!(
        std::fs::read(config.join("girofle-sso.rb")).unwrap(),
        settings_then
    );
    for name in ["girofle-sso.rb", "girofle-sso-oidc-client-secret"] {
        let meta = std::fs::metadata(config.join(name)).unwrap();
        assert_eq!((meta.mode() & 0o7777, meta.uid()), (0o600, 0), "{name}");
    }
    let env = common::docker(&[
        "inspect",
        "--format",
        "{{range .Config.Env}}{{println .}}{{end}}",
        &container,
    ]);
    assert!(
        env.contains("from_file '/etc/gitlab/girofle-sso.rb'"),
        "{env}"
    );
}

#[test]
fn bad_single_sign_on_input_is_refused_and_makes_nothing() {
    let world = Scenario::new();
    let ip = fresh_ip();
    let files = tempfile::tempdir().unwrap();
    let fingerprint = "43:51:43:a1:b5:fc:8b:b7:0a:3a:a9:b1:0f:66:73:a8:12:34:56:78";
    let open_secret = secret_file(files.path(), 0o644);
    let open_secret = open_secret.to_str().unwrap();
    let good_secret = files.path().join("good");
    std::fs::create_dir(&good_secret).unwrap();
    let good_secret = secret_file(&good_secret, 0o600);
    let linked = files.path().join("linked-secret");
    std::os::unix::fs::symlink(&good_secret, &linked).unwrap();
    let linked_secret = linked.to_str().unwrap();
    let not_metadata = files.path().join("page.html");
    std::fs::write(&not_metadata, "<html><body>Sign in</body></html>\n").unwrap();
    let not_metadata = not_metadata.to_str().unwrap();
    let base = ["--ip", ip.as_str(), "--hostname", ip.as_str()];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "--saml-idp-url",
                "https://idp/sso",
                "--saml-idp-cert-fingerprint",
                fingerprint,
            ],
            "needs --tls",
        ),
        (
            vec![
                "--tls",
                "girofle-ca",
                "--saml-idp-url",
                "http://idp/sso",
                "--saml-idp-cert-fingerprint",
                fingerprint,
            ],
            "must be an https:// URL",
        ),
        (
            vec![
                "--tls",
                "girofle-ca",
                "--saml-idp-url",
                "https://idp/sso",
                "--saml-idp-cert-fingerprint",
                "43:51",
            ],
            "not a SHA-1 fingerprint",
        ),
        (
            vec![
                "--tls",
                "girofle-ca",
                "--saml-idp-url",
                "https://idp/sso",
                "--saml-idp-cert-fingerprint",
                fingerprint,
                "--saml-issuer",
                "x'\ngitlab_rails['omniauth_block_auto_created_users'] = false #",
            ],
            "control character",
        ),
        (
            vec![
                "--tls",
                "girofle-ca",
                "--oidc-issuer",
                "https://id.example.org",
                "--oidc-client-id",
                "gitlab",
                "--oidc-client-secret-file",
                open_secret,
            ],
            "readable by root alone",
        ),
        (
            vec![
                "--tls",
                "girofle-ca",
                "--oidc-issuer",
                "https://id.example.org",
                "--oidc-client-id",
                "gitlab",
                "--oidc-client-secret-file",
                linked_secret,
            ],
            // A link is not followed: whoever owns the link's directory could swap it.
            "symbolic links",
        ),
        (
            vec![
                "--tls",
                "girofle-ca",
                "--oidc-issuer",
                "https://id.example.org",
                "--oidc-client-id",
                "gitlab",
                "--oidc-client-secret-file",
                "/nonexistent/secret",
            ],
            "/nonexistent/secret",
        ),
        (
            vec![
                "--tls",
                "girofle-ca",
                "--saml-metadata",
                "/nonexistent/metadata.xml",
            ],
            "/nonexistent/metadata.xml",
        ),
        (
            vec![
                "--tls",
                "girofle-ca",
                "--saml-metadata",
                "http://idp/metadata",
            ],
            "must be a file or an https:// URL",
        ),
        (
            vec!["--tls", "girofle-ca", "--saml-metadata", not_metadata],
            "not the metadata of a SAML identity provider",
        ),
        (
            vec![
                "--tls",
                "girofle-ca",
                "--oidc-issuer",
                "https://id.example.org",
            ],
            "together",
        ),
    ];
    for (args, expected) in cases {
        let mut all: Vec<&str> = base.to_vec();
        all.extend(args.iter().copied());
        let run = world.run("girofle-commission", &all).expect_code(2);
        assert!(run.stderr.contains(expected), "{args:?}: {}", run.stderr);
    }
    // A dry run of a good request says what would be written, and writes nothing.
    let mut all: Vec<&str> = base.to_vec();
    all.extend([
        "--tls",
        "girofle-ca",
        "--saml-idp-url",
        "https://idp/sso",
        "--saml-idp-cert-fingerprint",
        fingerprint,
        "--dry-run",
    ]);
    let dry = world.run("girofle-commission", &all).expect_code(0);
    assert!(
        dry.stdout.contains("single sign-on: write ")
            && dry.stdout.contains("girofle-sso.rb (root 0600)")
            && dry
                .stdout
                .contains("from_file '/etc/gitlab/girofle-sso.rb'"),
        "{}",
        dry.stdout
    );
    assert!(world.containers().is_empty());
    assert!(
        !world
            .home_entries()
            .iter()
            .any(|name| name.starts_with("noeud-gitlab-") || name == "tls"),
        "{:?}",
        world.home_entries()
    );
}

#[test]
fn an_instance_in_service_gets_single_sign_on_through_reconfigure_and_keeps_its_data() {
    let world = Scenario::new();
    let ip = fresh_ip();
    let files = tempfile::tempdir().unwrap();
    let secret = secret_file(files.path(), 0o600);
    let url = world
        .run(
            "girofle-commission",
            &[
                "--wait-timeout",
                "120",
                "--ip",
                &ip,
                "--hostname",
                &ip,
                "--tls",
                "girofle-ca",
            ],
        )
        .expect_code(0)
        .stdout
        .trim()
        .to_string();
    let container = world.entry(1)["container"].as_str().unwrap().to_string();
    let config = world.instance_dir(1).join("mapping-volumes/config");
    let oidc = [
        "--oidc-issuer",
        "https://id.example.org/realms/staff",
        "--oidc-client-id",
        "gitlab",
        "--oidc-client-secret-file",
        secret.to_str().unwrap(),
    ];

    // Without --tls, reconfigure does not know what the instance serves:
    // refused, nothing written.
    let mut refused = vec!["--reconfigure", "1"];
    refused.extend(oidc);
    world.run("girofle-commission", &refused).expect_code(2);
    assert!(!config.join("girofle-sso.rb").exists());

    let mut asked = vec!["--reconfigure", "1", "--tls", "girofle-ca"];
    asked.extend(oidc);
    let mut dry = asked.clone();
    dry.push("--dry-run");
    let plan = world.run("girofle-commission", &dry).expect_code(0);
    assert!(plan.stdout.contains("girofle-sso.rb"), "{}", plan.stdout);
    assert!(!config.join("girofle-sso.rb").exists(), "a dry run wrote");

    asked.extend(["--wait-timeout", "120"]);
    let done = world.run("girofle-commission", &asked).expect_code(0);
    assert_eq!(done.stdout.trim(), url);
    let text = common::docker(&["exec", &container, "cat", "/etc/gitlab/girofle-sso.rb"]);
    let settings = Ruby::settings(&text);
    assert_eq!(
        settings["omniauth_allow_single_sign_on"],
        json!(["openid_connect"]),
        "{text}"
    );
    let env = common::docker(&[
        "inspect",
        "--format",
        "{{range .Config.Env}}{{println .}}{{end}}",
        &container,
    ]);
    assert!(
        env.contains("from_file '/etc/gitlab/girofle-sso.rb'"),
        "{env}"
    );
    assert!(!env.contains("s3cr3t"), "{env}");
    for name in ["girofle-sso.rb", "girofle-sso-oidc-client-secret"] {
        let meta = std::fs::metadata(config.join(name)).unwrap();
        assert_eq!((meta.mode() & 0o7777, meta.uid()), (0o600, 0), "{name}");
    }
}
