//! What a GitLab container is, as Girofle runs it: its three volumes, its
//! `docker run` specification, its omnibus config and labels.

use crate::docker::RunSpec;
use crate::home::{Home, InstanceDir};
use crate::inventory::Row;

/// The three volumes, in the order they are copied.
pub const VOLUMES: [&str; 3] = ["config", "data", "log"];

/// Where the omnibus image keeps the version it runs.
pub const IMAGE_VERSION_FILE: &str = "/opt/gitlab/embedded/service/gitlab-rails/VERSION";

/// The labels of an instance's container: its home and its number.
pub fn labels(home: &Home, row: &Row) -> Vec<(String, String)> {
    vec![
        ("girofle.home".into(), home.root().display().to_string()),
        ("girofle.instance".into(), row.number.to_string()),
    ]
}

/// The `docker run` of an instance, as its inventory row and its config
/// volume describe it: single sign-on settings there (`girofle-sso.rb`) are
/// loaded, so that a restore or a recreation keeps them.
pub fn run_spec(home: &Home, row: &Row, instance: &InstanceDir) -> RunSpec {
    run_spec_with(
        home,
        row,
        instance,
        crate::sso::configured(&instance.config()),
    )
}

/// [`run_spec`], told whether the config volume holds single sign-on
/// settings (a plan says so before they are written).
pub fn run_spec_with(home: &Home, row: &Row, instance: &InstanceDir, sso: bool) -> RunSpec {
    let http = row.http_port.unwrap_or(80);
    let ssh = row.ssh_port.unwrap_or(22);
    // With TLS, nginx is told to listen on 443 whatever the port of
    // external_url, and to redirect plain HTTP on the HTTP port: the same
    // three publications with TLS or without (CONTRACT.md).
    let mut publish = vec![(row.ip.clone(), http, http)];
    if let Some(https) = row.https_port {
        publish.push((row.ip.clone(), https, 443));
    }
    publish.push((row.ip.clone(), ssh, 22));
    RunSpec {
        name: row.container.clone(),
        hostname: row.hostname.clone(),
        labels: labels(home, row),
        publish,
        mounts: vec![
            (instance.config(), "/etc/gitlab".into()),
            (instance.data(), "/var/opt/gitlab".into()),
            (instance.logs(), "/var/log/gitlab".into()),
        ],
        env: vec![(
            "GITLAB_OMNIBUS_CONFIG".into(),
            omnibus_config_with(row, sso),
        )],
        image: row.image.clone(),
    }
}

/// The `GITLAB_OMNIBUS_CONFIG` of an instance: its URL and SSH port, and
/// with TLS the keys GitLab's omnibus documentation gives for certificates
/// of one's own (paths only: the key itself never enters the environment),
/// or for its Let's Encrypt integration with `acme` (the row's ACME
/// directory and contact address, checked when the row was read).
pub fn omnibus_config(row: &Row) -> String {
    let mut config = format!(
        "external_url '{}'; gitlab_rails['gitlab_shell_ssh_port'] = {}",
        row.url(),
        row.ssh_port.unwrap_or(22)
    );
    if row.tls == "acme" {
        // omnibus' Let's Encrypt integration: it writes the certificate
        // where nginx['ssl_certificate'] points by default
        // (/etc/gitlab/ssl/<host>.crt), so no path is given. Another ACME
        // server is given for both of omnibus' endpoints: staging is only
        // a rehearsal of production.
        config.push_str("; letsencrypt['enable'] = true");
        if !row.acme_email.is_empty() {
            config.push_str(&format!(
                "; letsencrypt['contact_emails'] = ['{}']",
                row.acme_email
            ));
        }
        if !row.acme_url.is_empty() {
            config.push_str(&format!(
                "; letsencrypt['acme_staging_endpoint'] = '{url}'; \
                 letsencrypt['acme_production_endpoint'] = '{url}'",
                url = row.acme_url
            ));
        }
        config.push_str(&format!(
            "; nginx['listen_port'] = 443; nginx['redirect_http_to_https'] = true; \
             nginx['redirect_http_to_https_port'] = {}",
            row.http_port.unwrap_or(80)
        ));
    } else if !row.tls.is_empty() {
        let host = tls_host(row);
        config.push_str(&format!(
            "; letsencrypt['enable'] = false; nginx['listen_port'] = 443; \
             nginx['redirect_http_to_https'] = true; nginx['redirect_http_to_https_port'] = {}; \
             nginx['ssl_certificate'] = '/etc/gitlab/ssl/{host}.crt'; \
             nginx['ssl_certificate_key'] = '/etc/gitlab/ssl/{host}.key'",
            row.http_port.unwrap_or(80)
        ));
    }
    config
}

/// [`omnibus_config`], and with `sso` the statement that loads the single
/// sign-on settings of the config volume (their values, and the secret, stay
/// in files: the environment is shown by `docker inspect` to anyone allowed
/// to ask the engine).
pub fn omnibus_config_with(row: &Row, sso: bool) -> String {
    let mut config = omnibus_config(row);
    if sso {
        config.push_str("; ");
        config.push_str(&crate::sso::load_statement());
    }
    config
}

/// The host an instance's certificate is made for and named after
/// (`config/ssl/<host>.crt`): the host name of its `external_url`.
pub fn tls_host(row: &Row) -> &str {
    if row.hostname.is_empty() {
        &row.ip
    } else {
        &row.hostname
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::RowState;
    use std::path::Path;

    #[test]
    fn the_run_specification_follows_the_contract() {
        let home = Home::resolve(Some(Path::new("/girofle")));
        let row = Row::example(3, "docs", RowState::Commissioned);
        let instance = home.instance_of(&row);
        let args = run_spec(&home, &row, &instance).arguments().join(" ");
        for expected in [
            "--name girofle-gitlab-3-docs",
            "--hostname git.example.org",
            "--label girofle.home=/girofle",
            "--label girofle.instance=3",
            "--publish 127.0.0.2:8083:8083",
            "--publish 127.0.0.2:8446:443",
            "--publish 127.0.0.2:2225:22",
            "--volume /girofle/noeud-gitlab-3/mapping-volumes/config:/etc/gitlab",
            "--volume /girofle/noeud-gitlab-3/mapping-volumes/data:/var/opt/gitlab",
            "--volume /girofle/noeud-gitlab-3/mapping-volumes/log:/var/log/gitlab",
            "--env GITLAB_OMNIBUS_CONFIG=external_url 'http://git.example.org:8083'; gitlab_rails['gitlab_shell_ssh_port'] = 2225",
        ] {
            assert!(args.contains(expected), "{expected} not in {args}");
        }
        assert!(args.ends_with(" gitlab/gitlab-ce:latest"), "{args}");
    }

    #[test]
    fn with_tls_the_url_is_https_and_nginx_is_given_the_certificate() {
        let home = Home::resolve(Some(Path::new("/girofle")));
        let mut row = Row::example(3, "docs", RowState::Commissioned);
        row.tls = "girofle-ca".into();
        assert_eq!(row.url(), "https://git.example.org:8446");
        assert_eq!(
            omnibus_config(&row),
            "external_url 'https://git.example.org:8446'; gitlab_rails['gitlab_shell_ssh_port'] = 2225; \
             letsencrypt['enable'] = false; nginx['listen_port'] = 443; \
             nginx['redirect_http_to_https'] = true; nginx['redirect_http_to_https_port'] = 8083; \
             nginx['ssl_certificate'] = '/etc/gitlab/ssl/git.example.org.crt'; \
             nginx['ssl_certificate_key'] = '/etc/gitlab/ssl/git.example.org.key'"
        );
        let args = run_spec(&home, &row, &home.instance_of(&row))
            .arguments()
            .join(" ");
        for expected in [
            "--publish 127.0.0.2:8446:443",
            "--publish 127.0.0.2:8083:8083",
            "--publish 127.0.0.2:2225:22",
        ] {
            assert!(args.contains(expected), "{expected} not in {args}");
        }
        row.https_port = Some(443);
        assert_eq!(row.url(), "https://git.example.org");
    }

    #[test]
    fn with_acme_omnibus_is_given_its_letsencrypt_keys_and_no_certificate_path() {
        let mut row = Row::example(3, "docs", RowState::Commissioned);
        row.tls = "acme".into();
        assert_eq!(
            omnibus_config(&row),
            "external_url 'https://git.example.org:8446'; gitlab_rails['gitlab_shell_ssh_port'] = 2225; \
             letsencrypt['enable'] = true; nginx['listen_port'] = 443; \
             nginx['redirect_http_to_https'] = true; nginx['redirect_http_to_https_port'] = 8083"
        );
        row.acme_url = "https://ca.internal/acme/acme/directory".into();
        row.acme_email = "ops@example.org".into();
        assert_eq!(
            omnibus_config(&row),
            "external_url 'https://git.example.org:8446'; gitlab_rails['gitlab_shell_ssh_port'] = 2225; \
             letsencrypt['enable'] = true; letsencrypt['contact_emails'] = ['ops@example.org']; \
             letsencrypt['acme_staging_endpoint'] = 'https://ca.internal/acme/acme/directory'; \
             letsencrypt['acme_production_endpoint'] = 'https://ca.internal/acme/acme/directory'; \
             nginx['listen_port'] = 443; \
             nginx['redirect_http_to_https'] = true; nginx['redirect_http_to_https_port'] = 8083"
        );
    }
}
