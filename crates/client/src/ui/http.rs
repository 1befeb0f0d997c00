//! The little HTTP the page needs, on a plain `TcpListener`: one thread per
//! connection (a slow request never holds another up), read timeouts, a cap
//! on the head and the body, one request per connection, and answers whose
//! every header is written here and checked to carry no control character.
//!
//! The request's head is handed to [`Handler::admit`] before its body is
//! read: a request without the page's key is refused without waiting for a
//! body it may send slowly, or never.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The largest body the page sends (a folder's path, a file name, a message).
pub(super) const MAX_BODY: usize = 64 * 1024;
/// The largest request head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// How long one read may wait for the next bytes.
const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a whole request may take to arrive.
const REQUEST_DEADLINE: Duration = Duration::from_secs(15);
/// How long a write may wait for the browser to take the bytes.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections served at once; more are closed at once (the page itself
/// needs a handful).
const MAX_CONNECTIONS: usize = 64;

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

/// A request's method, address and headers, before its body.
#[derive(Debug)]
pub(super) struct Head {
    /// `GET`, `POST`…
    pub(super) method: String,
    /// The path, without the query.
    pub(super) path: String,
    /// The decoded query.
    pub(super) query: Query,
    /// Names in lower case.
    headers: Vec<(String, String)>,
    content_length: usize,
}

impl Head {
    /// The value of the header `name` (lower case), when it is there once;
    /// a header given twice is taken as absent (and so refused where needed).
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        let mut found = self.headers.iter().filter(|(n, _)| n == name);
        match (found.next(), found.next()) {
            (Some((_, value)), None) => Some(value.as_str()),
            _ => None,
        }
    }
}

/// What serves the page's requests.
pub(super) trait Handler: Send + Sync + 'static {
    /// Whether the request may go on; refused before its body is read.
    fn admit(&self, head: &Head) -> Result<(), Answer>;
    /// The answer to an admitted request.
    fn answer(&self, head: &Head, body: &[u8]) -> Answer;
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

    /// A file of the person's, shown in the browser when it can be. Its name
    /// comes from the server's tree, where anyone sharing the folder may put
    /// any byte but `/` and NUL: it is percent-encoded (RFC 6266's
    /// `filename*`), so that no name can add a header.
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
        let base = name.rsplit('/').next().unwrap_or(name);
        Answer {
            status: 200,
            content_type: content_type.into(),
            body,
            disposition: Some(format!(
                "inline; filename*=UTF-8''{}",
                crate::percent::encode(base, crate::percent::ATTR_CHAR)
            )),
        }
    }
}

/// Whether `value` may be sent as a header value: printable ASCII and tabs.
fn clean_header_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
}

/// Serves `listener` until the process ends.
pub(super) fn serve<H: Handler>(listener: TcpListener, handler: Arc<H>) {
    let open = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let Ok(stream) = stream else {
            // Out of file descriptors, say: do not spin.
            std::thread::sleep(Duration::from_millis(50));
            continue;
        };
        if open.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            open.fetch_sub(1, Ordering::SeqCst);
            drop(stream);
            continue;
        }
        let handler = Arc::clone(&handler);
        let count = Arc::clone(&open);
        let spawned = std::thread::Builder::new()
            .name("page-connection".into())
            .spawn(move || {
                connection(stream, &*handler);
                count.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            open.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// One request, its answer, and the connection closed.
fn connection(mut stream: TcpStream, handler: &impl Handler) {
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let deadline = Instant::now() + REQUEST_DEADLINE;
    let answer = match read_head(&mut stream, deadline) {
        Ok(None) => return,
        Ok(Some((head, rest))) => match handler.admit(&head) {
            Err(refused) => refused,
            Ok(()) => match read_body(&mut stream, rest, head.content_length, deadline) {
                Ok(body) => handler.answer(&head, &body),
                Err(answer) => answer,
            },
        },
        Err(answer) => answer,
    };
    send(&mut stream, answer);
}

/// Reads until the blank line that ends the head. `None`: the connection
/// closed (or stayed silent) before a byte came.
fn read_head(stream: &mut TcpStream, deadline: Instant) -> Result<Option<(Head, Vec<u8>)>, Answer> {
    let mut buffer = Vec::with_capacity(2048);
    let mut chunk = [0u8; 2048];
    loop {
        if Instant::now() > deadline {
            return Err(Answer::text(408, "The request took too long.\n"));
        }
        let read = match stream.read(&mut chunk) {
            Ok(0) if buffer.is_empty() => return Ok(None),
            Ok(0) => return Err(Answer::text(400, "The request was cut short.\n")),
            Ok(read) => read,
            Err(_) if buffer.is_empty() => return Ok(None),
            Err(_) => return Err(Answer::text(408, "The request took too long.\n")),
        };
        buffer.extend_from_slice(&chunk[..read]);
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(&buffer) {
            Ok(httparse::Status::Complete(end)) => {
                let head = head_of(&request)?;
                return Ok(Some((head, buffer[end..].to_vec())));
            }
            Ok(httparse::Status::Partial) if buffer.len() <= MAX_HEAD => {}
            Ok(httparse::Status::Partial) | Err(httparse::Error::TooManyHeaders) => {
                return Err(Answer::text(431, "The request's head is too large.\n"));
            }
            Err(_) => return Err(Answer::text(400, "The request could not be read.\n")),
        }
    }
}

fn head_of(request: &httparse::Request) -> Result<Head, Answer> {
    let bad = || Answer::text(400, "The request could not be read.\n");
    let method = request.method.ok_or_else(bad)?.to_string();
    let target = request.path.ok_or_else(bad)?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers = Vec::new();
    for header in request.headers.iter() {
        let value = std::str::from_utf8(header.value).map_err(|_| bad())?;
        headers.push((header.name.to_ascii_lowercase(), value.trim().to_string()));
    }
    let mut head = Head {
        method,
        path: path.to_string(),
        query: Query::parse(query),
        headers,
        content_length: 0,
    };
    // Bodies come with their length, as the page's script sends them.
    if head.headers.iter().any(|(n, _)| n == "transfer-encoding") {
        return Err(Answer::text(411, "A body needs its length.\n"));
    }
    let lengths: Vec<&str> = head
        .headers
        .iter()
        .filter(|(n, _)| n == "content-length")
        .map(|(_, v)| v.as_str())
        .collect();
    head.content_length = match lengths.as_slice() {
        [] => 0,
        [length] => length.parse().map_err(|_| bad())?,
        _ => return Err(bad()),
    };
    Ok(head)
}

fn read_body(
    stream: &mut TcpStream,
    mut body: Vec<u8>,
    length: usize,
    deadline: Instant,
) -> Result<Vec<u8>, Answer> {
    if length > MAX_BODY {
        return Err(Answer::text(413, "The request is too large.\n"));
    }
    let mut chunk = [0u8; 4096];
    while body.len() < length {
        if Instant::now() > deadline {
            return Err(Answer::text(408, "The request took too long.\n"));
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Err(Answer::text(400, "The request was cut short.\n")),
            Ok(read) => body.extend_from_slice(&chunk[..read]),
            Err(_) => return Err(Answer::text(408, "The request took too long.\n")),
        }
    }
    body.truncate(length);
    Ok(body)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        421 => "Misdirected Request",
        431 => "Request Header Fields Too Large",
        _ => "Error",
    }
}

/// Writes the answer with the headers that keep the page to itself, then
/// closes the connection.
fn send(stream: &mut TcpStream, answer: Answer) {
    let length = answer.body.len().to_string();
    let mut headers = vec![
        ("Content-Type", answer.content_type.as_str()),
        ("Content-Length", length.as_str()),
        ("Connection", "close"),
        ("Cache-Control", "no-store"),
        // No address of the page's is ever told to another site.
        ("Referrer-Policy", "no-referrer"),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Cross-Origin-Resource-Policy", "same-origin"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        (
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data: blob:; frame-ancestors 'none'; \
             form-action 'none'; base-uri 'none'",
        ),
    ];
    if let Some(disposition) = &answer.disposition {
        headers.push(("Content-Disposition", disposition.as_str()));
    }
    let mut out = format!("HTTP/1.1 {} {}\r\n", answer.status, reason(answer.status));
    for (name, value) in headers {
        // Never a line break, whatever a value was made of.
        if clean_header_value(value) {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&answer.body);
    if stream
        .write_all(&bytes)
        .and_then(|_| stream.flush())
        .is_err()
    {
        return;
    }
    // Take what the browser may still send (a refused body) for a moment,
    // so that closing does not reset the connection before it reads; a
    // moment only, whatever trickles in, so that a peer without the key
    // cannot hold one of the page's connections by sending a byte at a time.
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let until = std::time::Instant::now() + Duration::from_secs(1);
    let mut sink = [0u8; 4096];
    let mut drained = 0;
    while drained < MAX_BODY && std::time::Instant::now() < until {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(read) => drained += read,
        }
    }
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

    #[test]
    fn file_names_never_break_a_header() {
        let answer = Answer::file("dir/x\r\nRefresh: 0\"é.txt", b"x".to_vec());
        let disposition = answer.disposition.unwrap();
        assert_eq!(
            disposition,
            "inline; filename*=UTF-8''x%0D%0ARefresh%3A%200%22%C3%A9.txt"
        );
        assert!(clean_header_value(&disposition));
        assert!(!clean_header_value("a\r\nb"));
    }
}
