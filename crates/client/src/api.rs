//! The part of GitLab's REST API v4 the client uses, as GitLab documents it:
//! the current user, projects with a topic, one project, creating a project,
//! looking a user up by name, adding a member. The token goes in the
//! `PRIVATE-TOKEN` header.
//!
//! Redirects are never followed: the token would go to wherever the server
//! points, and a `POST` turned into a `GET` would look done when it was not.
//! An answer sending elsewhere is an error that names the new address. Over
//! https the server's certificate is checked against the system's store (the
//! same roots git uses) and, when the person gave one, their own CA.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use girofle_base::error::Error;

use crate::percent;
use crate::tr;

/// The topic that marks a project as one of the person's saved folders.
pub const TOPIC: &str = "girofle";

/// Maintainer: may send versions to the protected default branch.
pub const MAINTAINER: u64 = 40;

/// A GitLab user.
#[derive(Debug, Clone, Deserialize)]
pub struct User {
    /// The numeric ID.
    pub id: u64,
    /// The user name (login).
    pub username: String,
    /// The full name.
    #[serde(default)]
    pub name: String,
    /// The e-mail address, when the server shows it.
    #[serde(default)]
    pub email: Option<String>,
}

/// A GitLab project, as far as the client cares.
#[derive(Debug, Clone, Deserialize)]
pub struct Project {
    /// The numeric ID.
    pub id: u64,
    /// The display name.
    pub name: String,
    /// The path inside its namespace.
    pub path: String,
    /// `namespace/path`.
    pub path_with_namespace: String,
    /// Its topics.
    #[serde(default)]
    pub topics: Vec<String>,
    /// Its description: for a folder, the folder's name as the person wrote it.
    #[serde(default)]
    pub description: Option<String>,
}

impl Project {
    /// Whether the project is a saved folder (carries the topic). GitLab
    /// keeps a topic in the case of whoever used it first (`Girofle`).
    pub fn is_folder(&self) -> bool {
        self.topics
            .iter()
            .any(|topic| topic.eq_ignore_ascii_case(TOPIC))
    }

    /// The folder's name as the person wrote it: the description, when the
    /// project's name was made from it (so a description someone wrote on
    /// GitLab's page is not taken for a name), else the project's name.
    ///
    /// A description holding a control character is never taken: anyone a
    /// folder is shared with can write it, and it is printed on the
    /// person's terminal (an escape sequence would drive it) and becomes a
    /// folder's name on `get`. No folder name made by a person holds one.
    pub fn display_name(&self) -> &str {
        match self.description.as_deref().map(str::trim) {
            Some(folder)
                if !folder.is_empty()
                    && !folder.chars().any(char::is_control)
                    && super::names::made_from(&self.name, folder) =>
            {
                folder
            }
            _ => &self.name,
        }
    }
}

/// Whether a member was added, or already was one.
#[derive(Debug, PartialEq, Eq)]
pub enum Membership {
    /// Added as Maintainer.
    Added,
    /// A member already, at this access level.
    Already(u64),
}

/// Why a call did not give what was asked.
#[derive(Debug)]
pub enum ApiError {
    /// The server could not be reached.
    Offline(String),
    /// The server was reached, but its certificate does not verify: never
    /// taken for "offline", since waiting does not mend it.
    Untrusted(Certificate),
    /// The server answered with this status and body.
    Status(u16, String),
    /// The server sends the client to another address (a redirect): its
    /// root, when the address says it.
    Moved(String),
    /// The answer was not what GitLab sends.
    Bad(String),
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Offline(why) => f.write_str(&tr!("api-offline", why = why.to_string())),
            ApiError::Untrusted(Certificate::UnknownIssuer) => {
                f.write_str(&tr!("api-certificate-unknown-authority"))
            }
            ApiError::Untrusted(Certificate::Expired) => {
                f.write_str(&tr!("api-certificate-expired"))
            }
            ApiError::Untrusted(Certificate::OtherName) => {
                f.write_str(&tr!("api-certificate-other-name"))
            }
            ApiError::Untrusted(Certificate::Other(why)) => {
                f.write_str(&tr!("api-certificate-unverified", why = why.to_string()))
            }
            ApiError::Status(401, _) => f.write_str(&tr!("api-token-refused")),
            ApiError::Status(403, _) => f.write_str(&tr!("api-no-access")),
            ApiError::Status(404, _) => f.write_str(&tr!("api-not-found")),
            ApiError::Status(code, body) => match explain(body) {
                Some(words) => f.write_str(&tr!("api-refused", why = words)),
                None => f.write_str(&tr!("api-error", code = *code)),
            },
            ApiError::Bad(why) => f.write_str(&tr!("api-bad", why = why.to_string())),
            ApiError::Moved(to) if !plain_web_address(to) => f.write_str(&tr!("api-moved-odd")),
            ApiError::Moved(to) => f.write_str(&tr!("api-moved", to = to.to_string())),
        }
    }
}

/// What is wrong with a server's certificate, in the words a person can act on.
#[derive(Debug, PartialEq, Eq)]
pub enum Certificate {
    /// Signed by an authority this machine does not trust (a private one:
    /// `--ca-file` is the remedy).
    UnknownIssuer,
    /// Out of date.
    Expired,
    /// Made out to another name than the address given.
    OtherName,
    /// Anything else rustls refuses, with its words.
    Other(String),
}

/// A failed call: a certificate refused, or a server not reached. rustls
/// says `invalid peer certificate: <kind>` whether ureq hands its error over
/// as such or wrapped in an I/O error, so its words are what is looked at.
fn unreached(error: ureq::Error) -> ApiError {
    let text = error.to_string();
    let Some((_, kind)) = text.split_once("invalid peer certificate: ") else {
        return ApiError::Offline(text);
    };
    ApiError::Untrusted(if kind.starts_with("UnknownIssuer") {
        Certificate::UnknownIssuer
    } else if kind.starts_with("Expired") {
        Certificate::Expired
    } else if kind.starts_with("NotValidForName") {
        Certificate::OtherName
    } else {
        Certificate::Other(kind.to_string())
    })
}

/// An `http(s)://` address made of the characters a web address is written
/// with and nothing a shell, a terminal or a reader could take for more: the
/// server's `Location` is shown as a command to run.
fn plain_web_address(text: &str) -> bool {
    (text.starts_with("https://") || text.starts_with("http://"))
        && text.len() <= 2048
        && text.bytes().all(|byte| {
            byte.is_ascii_alphanumeric()
                || matches!(
                    byte,
                    b':' | b'/' | b'.' | b'-' | b'_' | b'~' | b'%' | b'[' | b']'
                )
        })
}

impl From<ApiError> for Error {
    fn from(error: ApiError) -> Error {
        Error::failed(error.to_string())
    }
}

/// GitLab's error body in words: `{"message":{"name":["has already been
/// taken"]}}` gives "name has already been taken"; `{"message":"…"}` and
/// `{"error":"…"}` their text. `None` when the body is not GitLab's JSON.
pub fn explain(body: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(body).ok()?;
    let said = value.get("message").or_else(|| value.get("error"))?;
    let text = match said {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Object(fields) => {
            let mut parts = Vec::new();
            for (field, what) in fields {
                let field = field.replace(['_', '.'], " ");
                match what {
                    serde_json::Value::Array(list) => {
                        for item in list.iter().filter_map(|i| i.as_str()) {
                            parts.push(format!("{field} {}", item.trim_end_matches('.')));
                        }
                    }
                    serde_json::Value::String(item) => {
                        parts.push(format!("{field} {}", item.trim_end_matches('.')))
                    }
                    _ => {}
                }
            }
            if parts.is_empty() {
                return None;
            }
            parts.join("; ")
        }
        _ => return None,
    };
    let text: String = text.trim().chars().take(400).collect();
    (!text.is_empty()).then_some(text)
}

/// Whether a 400 says the project's name or path is taken in the namespace.
pub fn is_taken(body: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|value| value.get("message").cloned())
        .and_then(|message| message.as_object().cloned())
        .is_some_and(|fields| {
            fields.iter().any(|(field, what)| {
                (field == "name" || field == "path" || field.ends_with(".name"))
                    && what.to_string().contains("has already been taken")
            })
        })
}

/// A connection to the server's API.
pub struct Api {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl Api {
    /// An API client for `server` (its root URL) with `token`, trusting the
    /// system's certificates and those of `ca_file` (PEM) when given.
    pub fn new(
        server: &str,
        token: &str,
        ca_file: Option<&Path>,
    ) -> girofle_base::error::Result<Api> {
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_global(Some(Duration::from_secs(60)));
        if server.starts_with("https://") || ca_file.is_some() {
            config = config.tls_config(
                ureq::tls::TlsConfig::builder()
                    .root_certs(roots(ca_file)?)
                    .build(),
            );
        }
        Ok(Api {
            base: format!("{}/api/v4", server.trim_end_matches('/')),
            token: token.to_string(),
            agent: config.build().into(),
        })
    }

    fn answer(
        &self,
        url: &str,
        result: std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> std::result::Result<serde_json::Value, ApiError> {
        let mut response = result.map_err(unreached)?;
        let status = response.status().as_u16();
        if (300..400).contains(&status) {
            let location = response
                .headers()
                .get("location")
                .and_then(|value| value.to_str().ok())
                .unwrap_or("");
            return Err(ApiError::Moved(self.moved_to(url, location)));
        }
        let body = response
            .body_mut()
            .read_to_string()
            .map_err(|error| ApiError::Offline(error.to_string()))?;
        if !(200..300).contains(&status) {
            return Err(ApiError::Status(status, body));
        }
        serde_json::from_str(&body).map_err(|error| ApiError::Bad(error.to_string()))
    }

    fn get(&self, path: &str) -> std::result::Result<serde_json::Value, ApiError> {
        let url = format!("{}{path}", self.base);
        self.answer(
            &url,
            self.agent
                .get(&url)
                .header("PRIVATE-TOKEN", &self.token)
                .call(),
        )
    }

    fn post(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> std::result::Result<serde_json::Value, ApiError> {
        let url = format!("{}{path}", self.base);
        self.answer(
            &url,
            self.agent
                .post(&url)
                .header("PRIVATE-TOKEN", &self.token)
                .send_json(body),
        )
    }

    fn put(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> std::result::Result<serde_json::Value, ApiError> {
        let url = format!("{}{path}", self.base);
        self.answer(
            &url,
            self.agent
                .put(&url)
                .header("PRIVATE-TOKEN", &self.token)
                .send_json(body),
        )
    }

    /// The server's new root, from a redirect of `url` to `location`: the
    /// address without the API's path when it ends so, else as given.
    fn moved_to(&self, url: &str, location: &str) -> String {
        let location = location.trim();
        let absolute = if location.starts_with("http://") || location.starts_with("https://") {
            location.to_string()
        } else {
            // A path on the same server.
            let scheme_end = url.find("://").map_or(0, |i| i + 3);
            let host_end = url[scheme_end..]
                .find('/')
                .map_or(url.len(), |i| scheme_end + i);
            format!("{}/{}", &url[..host_end], location.trim_start_matches('/'))
        };
        let asked = &url[self.base.len() - "/api/v4".len()..];
        let root = absolute
            .strip_suffix(asked)
            .or_else(|| absolute.split("/api/v4/").next())
            .unwrap_or(&absolute);
        root.trim_end_matches('/').to_string()
    }

    fn parse<T: serde::de::DeserializeOwned>(
        value: serde_json::Value,
    ) -> std::result::Result<T, ApiError> {
        serde_json::from_value(value).map_err(|error| ApiError::Bad(error.to_string()))
    }

    /// `GET /user`: who the token belongs to.
    pub fn current_user(&self) -> std::result::Result<User, ApiError> {
        Self::parse(self.get("/user")?)
    }

    /// `GET /projects?membership=true`: every saved folder the person may
    /// retrieve (their own and those shared with them), all pages. Not
    /// `topic=girofle`: GitLab finds a topic by its exact name, and keeps it
    /// in the case of whoever used it first (`Girofle`), so the projects
    /// carrying it are picked here, whatever its case.
    pub fn folders(&self) -> std::result::Result<Vec<Project>, ApiError> {
        let mut all = Vec::new();
        for page in 1.. {
            let batch: Vec<Project> = Self::parse(self.get(&format!(
                "/projects?membership=true&simple=true&per_page=100&page={page}&order_by=id&sort=asc"
            ))?)?;
            let last = batch.len() < 100;
            all.extend(batch.into_iter().filter(Project::is_folder));
            if last {
                break;
            }
        }
        Ok(all)
    }

    /// `GET /projects/:id` where the ID is a number or an encoded
    /// `namespace/path`.
    pub fn project(&self, id_or_path: &str) -> std::result::Result<Project, ApiError> {
        Self::parse(self.get(&format!(
            "/projects/{}",
            percent::encode(id_or_path, percent::UNRESERVED)
        ))?)
    }

    /// `POST /projects`: a private project in the person's namespace, with the
    /// topic, and the folder's own name as its description.
    pub fn create_folder(
        &self,
        name: &str,
        path: &str,
        description: &str,
    ) -> std::result::Result<Project, ApiError> {
        Self::parse(self.post(
            "/projects",
            &json!({
                "name": name,
                "path": path,
                "description": description,
                "visibility": "private",
                "topics": [TOPIC],
                "initialize_with_readme": false,
            }),
        )?)
    }

    /// `GET /users?username=NAME`: the user of that name, if any.
    pub fn user_named(&self, username: &str) -> std::result::Result<Option<User>, ApiError> {
        let users: Vec<User> = Self::parse(self.get(&format!(
            "/users?username={}",
            percent::encode(username, percent::UNRESERVED)
        ))?)?;
        Ok(users
            .into_iter()
            .find(|user| user.username.eq_ignore_ascii_case(username)))
    }

    /// `POST /projects/:id/members`: gives `user` a maintainer's access. When
    /// they were a member already, their access level (`GET
    /// /projects/:id/members/:user_id`).
    pub fn add_member(&self, project: u64, user: u64) -> std::result::Result<Membership, ApiError> {
        match self.post(
            &format!("/projects/{project}/members"),
            &json!({ "user_id": user, "access_level": MAINTAINER }),
        ) {
            Ok(_) => Ok(Membership::Added),
            Err(ApiError::Status(409, _)) => {
                let member = self.get(&format!("/projects/{project}/members/{user}"))?;
                Ok(Membership::Already(
                    member["access_level"].as_u64().unwrap_or(0),
                ))
            }
            Err(error) => Err(error),
        }
    }

    /// `PUT /projects/:id/members/:user_id`: makes a member a Maintainer.
    pub fn make_maintainer(&self, project: u64, user: u64) -> std::result::Result<(), ApiError> {
        self.put(
            &format!("/projects/{project}/members/{user}"),
            &json!({ "access_level": MAINTAINER }),
        )?;
        Ok(())
    }
}

/// The system's certificate authorities (those git trusts too), and those of
/// `ca_file`.
fn roots(ca_file: Option<&Path>) -> girofle_base::error::Result<ureq::tls::RootCerts> {
    let mut certs: Vec<ureq::tls::Certificate<'static>> = rustls_native_certs::load_native_certs()
        .certs
        .iter()
        .map(|der| ureq::tls::Certificate::from_der(der.as_ref()).to_owned())
        .collect();
    if let Some(file) = ca_file {
        let pem = std::fs::read(file).map_err(|error| {
            Error::usage(tr!(
                "cannot-read",
                file = file.display().to_string(),
                error = error.to_string()
            ))
        })?;
        let before = certs.len();
        for item in ureq::tls::parse_pem(&pem) {
            if let Ok(ureq::tls::PemItem::Certificate(cert)) = item {
                certs.push(cert);
            }
        }
        if certs.len() == before {
            return Err(Error::usage(tr!(
                "no-certificate",
                file = file.display().to_string()
            )));
        }
    }
    Ok(if certs.is_empty() {
        // No store on this system: the roots built in.
        ureq::tls::RootCerts::WebPki
    } else {
        ureq::tls::RootCerts::new_with_certs(&certs)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gitlab_errors_read_as_words() {
        let body = r#"{"message":{"name":["can contain only letters."],"path":["has already been taken"]}}"#;
        assert_eq!(
            explain(body).unwrap(),
            "name can contain only letters; path has already been taken"
        );
        assert!(is_taken(body));
        assert_eq!(
            explain(r#"{"error":"404 Not Found"}"#).unwrap(),
            "404 Not Found"
        );
        assert_eq!(explain("<html>Bad gateway</html>"), None);
        let shown = ApiError::Status(502, "<html>Bad gateway</html>".into()).to_string();
        assert_eq!(shown, "the server answered with an error (HTTP status 502)");
    }

    #[test]
    fn a_description_with_control_characters_is_never_a_folder_s_name() {
        let project = |name: &str, description: &str| Project {
            id: 1,
            name: name.into(),
            path: "p".into(),
            path_with_namespace: "bob/p".into(),
            topics: vec!["girofle".into()],
            description: Some(description.into()),
        };
        assert_eq!(
            project("Rapport’activité", "Rapport'activité").display_name(),
            "Rapport'activité"
        );
        // The name GitLab was given is what such a description makes of it,
        // yet the escape sequence that retitles a terminal is not shown.
        let hostile = "Evil\u{1b}]0;pwned\u{7}";
        assert_eq!(crate::names::project_name(hostile), "Evil 0 pwned");
        assert_eq!(
            project("Evil 0 pwned", hostile).display_name(),
            "Evil 0 pwned"
        );
        assert_eq!(
            project("Two lines", "Two\nlines").display_name(),
            "Two lines"
        );
    }

    #[test]
    fn a_refused_certificate_is_said_in_plain_words_not_taken_for_offline() {
        let said = |kind: &str| {
            let error = ureq::Error::Io(std::io::Error::other(format!(
                "invalid peer certificate: {kind}"
            )));
            unreached(error)
        };
        assert!(matches!(
            said("UnknownIssuer"),
            ApiError::Untrusted(Certificate::UnknownIssuer)
        ));
        assert!(matches!(
            said("Expired"),
            ApiError::Untrusted(Certificate::Expired)
        ));
        assert!(matches!(
            said("NotValidForName"),
            ApiError::Untrusted(Certificate::OtherName)
        ));
        let other = said("BadSignature").to_string();
        assert!(
            other.contains("cannot be verified (BadSignature)"),
            "{other}"
        );
        let expired = said("Expired").to_string();
        assert_eq!(
            expired,
            "the server's certificate has expired; its administrator must renew it"
        );
        assert!(matches!(
            unreached(ureq::Error::Io(std::io::Error::other("refused"))),
            ApiError::Offline(_)
        ));
    }

    #[test]
    fn an_unreachable_server_is_offline() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let api = Api::new(&format!("http://127.0.0.1:{port}"), "t", None).unwrap();
        assert!(matches!(api.current_user(), Err(ApiError::Offline(_))));
    }
}
