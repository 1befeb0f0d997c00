//! The little HTTP the page needs, over `tiny_http`: a query string, a body,
//! an answer with the headers that keep the page to itself.

use std::io::Read;

use tiny_http::{Header, Request, Response};

/// The decoded query string of a request.
#[derive(Debug, Default)]
pub(super) struct Query(Vec<(String, String)>);

impl Query {
    pub(super) fn parse(text: &str) -> Query {
        Query(
            text.split('&')
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                    (decode(key), decode(value))
                })
                .collect(),
        )
    }

    /// The first value of `key`.
    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// `%XX` and `+` decoded; invalid UTF-8 replaced.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|hex| u8::from_str_radix(hex, 16).ok());
                match hex {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Compares without stopping at the first difference.
pub(super) fn same_secret(given: &str, secret: &str) -> bool {
    given.len() == secret.len()
        && given
            .bytes()
            .zip(secret.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// What a handler answers.
pub(super) struct Answer {
    status: u16,
    content_type: String,
    body: Vec<u8>,
    disposition: Option<String>,
}

impl Answer {
    pub(super) fn asset(content_type: &str, body: &[u8]) -> Answer {
        Answer {
            status: 200,
            content_type: content_type.into(),
            body: body.to_vec(),
            disposition: None,
        }
    }

    pub(super) fn json(value: &serde_json::Value) -> Answer {
        Answer::asset("application/json", value.to_string().as_bytes())
    }

    pub(super) fn text(status: u16, text: &str) -> Answer {
        Answer {
            status,
            content_type: "text/plain; charset=utf-8".into(),
            body: text.as_bytes().to_vec(),
            disposition: None,
        }
    }

    pub(super) fn forbidden() -> Answer {
        Answer::text(
            403,
            "This page opens only from the address girofle-client ui printed.\n",
        )
    }

    pub(super) fn not_found() -> Answer {
        Answer::text(404, "There is nothing here.\n")
    }

    /// A file of the person's, shown in the browser when it can be.
    pub(super) fn file(name: &str, body: Vec<u8>) -> Answer {
        let extension = name.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
        let content_type = match extension.as_str() {
            "png" => "image/png",
            "jpg" | "jpeg" => "image/jpeg",
            "gif" => "image/gif",
            "pdf" => "application/pdf",
            _ if std::str::from_utf8(&body).is_ok() => "text/plain; charset=utf-8",
            _ => "application/octet-stream",
        };
        let base = name.rsplit('/').next().unwrap_or(name).replace('"', "");
        Answer {
            status: 200,
            content_type: content_type.into(),
            body,
            disposition: Some(format!("inline; filename=\"{base}\"")),
        }
    }
}

/// Reads a request, lets `handle` answer it (method, path, query, body), and
/// sends the answer.
pub(super) fn answer(
    mut request: Request,
    handle: impl FnOnce(&str, &str, &Query, &[u8]) -> Answer,
) {
    let url = request.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let query = Query::parse(query);
    let method = request.method().as_str().to_string();
    let mut body = Vec::new();
    let answer = if request
        .as_reader()
        .take(1 << 20)
        .read_to_end(&mut body)
        .is_err()
    {
        Answer::text(400, "The request could not be read.\n")
    } else {
        handle(&method, path, &query, &body)
    };
    let mut response = Response::from_data(answer.body).with_status_code(answer.status);
    let mut headers = vec![
        ("Content-Type", answer.content_type.as_str()),
        ("Cache-Control", "no-store"),
        // The token is in the address: never sent anywhere else.
        ("Referrer-Policy", "no-referrer"),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        (
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
        ),
    ];
    if let Some(disposition) = &answer.disposition {
        headers.push(("Content-Disposition", disposition.as_str()));
    }
    for (name, value) in headers {
        if let Ok(header) = Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            response.add_header(header);
        }
    }
    let _ = request.respond(response);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_decoded() {
        let query = Query::parse("t=abc&folder=%2Fhome%2Fa%20b&file=x+y.txt&bad=%zz");
        assert_eq!(query.get("t"), Some("abc"));
        assert_eq!(query.get("folder"), Some("/home/a b"));
        assert_eq!(query.get("file"), Some("x y.txt"));
        assert_eq!(query.get("bad"), Some("%zz"));
        assert_eq!(query.get("none"), None);
        assert_eq!(Query::parse("é=%C3%A9").get("é"), Some("é"));
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abcd", "abcd"));
        assert!(!same_secret("abce", "abcd"));
        assert!(!same_secret("abc", "abcd"));
        assert!(!same_secret("", "abcd"));
    }
}
