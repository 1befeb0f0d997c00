//! Secrets out of what Girofle logs and prints: a GitLab omnibus config or a
//! container environment may hold passwords and tokens (for instance
//! `gitlab_rails['initial_root_password'] = '...'`), and `girofle.log` is
//! readable by more people than root (it is copied into state backups too).

/// What replaces a secret value.
pub const REDACTED: &str = "[REDACTED]";

/// Words that make a key's value a secret, matched case-insensitively
/// anywhere in the key (`initial_root_password`, `runner_token`,
/// `secret_key_base`, `db_key_base`, `aws_access_key_id`...).
const SECRET_WORDS: [&str; 11] = [
    "password",
    "passwd",
    "passphrase",
    "token",
    "secret",
    "private_key",
    "key_base",
    "access_key",
    "api_key",
    "apikey",
    "authorization",
];

/// The prefixes of GitLab's tokens (personal, OAuth, deploy, runner, CI
/// job, trigger, feed, incoming mail, agent, SCIM, feature flags, workspace),
/// secret wherever they appear.
const GITLAB_TOKEN_PREFIXES: [&str; 14] = [
    "glpat-",
    "gloas-",
    "gldt-",
    "glrt-",
    "glrtr-",
    "glcbt-",
    "glptt-",
    "glft-",
    "glimt-",
    "glagent-",
    "glsoat-",
    "glffct-",
    "glwt-",
    "GR1348941",
];

/// `text` with every secret Girofle knows the shape of replaced by
/// [`REDACTED`]: the one redactor of every log line, message and alert.
///
/// - the value of a `KEY = VALUE`, `KEY => VALUE`, `KEY: VALUE`,
///   `KEY=VALUE` or `--KEY VALUE` whose key names a secret (a quoted
///   string, or a bare word ending at a space, `;`, `,`, `]`, `}` or the
///   end of the line); for `Authorization`, the credentials after the scheme;
/// - the password of a `user:password@host` (in a URL or not);
/// - the credentials after `Bearer` or `Basic`;
/// - GitLab tokens (`glpat-…`, `glrt-…`, …) wherever they are.
pub fn secrets(text: &str) -> String {
    let text = private_keys(text);
    let text = key_values(&text);
    let text = user_passwords(&text);
    let text = after_schemes(&text);
    gitlab_tokens(&text)
}

/// The body of every PEM private key (`-----BEGIN … PRIVATE KEY-----` to its
/// `-----END … PRIVATE KEY-----`, or to the end of the text when cut off).
fn private_keys(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(begin) = rest.find("-----BEGIN ") {
        let after_begin = &rest[begin + "-----BEGIN ".len()..];
        let Some(label_end) = after_begin.find("-----") else {
            break;
        };
        let label = &after_begin[..label_end];
        let body_start = begin + "-----BEGIN ".len() + label_end + "-----".len();
        if !label.ends_with("PRIVATE KEY") {
            out.push_str(&rest[..body_start]);
            rest = &rest[body_start..];
            continue;
        }
        out.push_str(&rest[..body_start]);
        out.push_str(REDACTED);
        let end_marker = format!("-----END {label}-----");
        match rest[body_start..].find(&end_marker) {
            Some(end) => rest = &rest[body_start + end..],
            None => rest = "",
        }
        if !rest.is_empty() {
            out.push_str(&end_marker);
            rest = &rest[end_marker.len()..];
        }
    }
    out.push_str(rest);
    out
}

/// The values of keys that name secrets.
fn key_values(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut search = 0;
    while let Some((word_start, word_len)) = next_secret_word(&lower, search) {
        search = word_start + word_len;
        // A command-line flag (`--db-password VALUE`) takes its value after
        // a space.
        let mut key_start = word_start;
        while key_start > 0
            && (bytes[key_start - 1].is_ascii_alphanumeric()
                || matches!(bytes[key_start - 1], b'_' | b'-'))
        {
            key_start -= 1;
        }
        let flag = text[key_start..].starts_with("--");
        // The rest of the key: identifier characters, then closing quotes and brackets.
        let mut i = search;
        while i < bytes.len()
            && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || (flag && bytes[i] == b'-'))
        {
            i += 1;
        }
        if flag {
            let key = &lower[key_start..i];
            // A flag naming where the secret is, not the secret.
            if ["file", "stdin", "path", "env"]
                .iter()
                .any(|tail| key.ends_with(tail))
            {
                continue;
            }
        }
        let key_end = i;
        while i < bytes.len() && matches!(bytes[i], b'\'' | b'"' | b']' | b' ' | b'\t') {
            i += 1;
        }
        // The separator.
        let separator = if text[i..].starts_with("=>") {
            2
        } else if i < bytes.len() && matches!(bytes[i], b'=' | b':') {
            1
        } else if flag && i > key_end && i < bytes.len() {
            // `--password VALUE`: the spaces were the separator.
            0
        } else {
            continue;
        };
        i += separator;
        while i < bytes.len() && matches!(bytes[i], b' ' | b'\t') {
            i += 1;
        }
        let mut value_start = i;
        let mut value_end = value_end(bytes, value_start);
        if value_end == value_start {
            continue;
        }
        // `Authorization: Bearer CREDENTIALS`: the scheme is kept.
        if lower[word_start..].starts_with("authorization")
            && bytes[value_start].is_ascii_alphabetic()
        {
            let mut next = value_end;
            while next < bytes.len() && bytes[next] == b' ' {
                next += 1;
            }
            if next > value_end {
                value_start = next;
                value_end = credential_end(bytes, next);
                if value_end == value_start {
                    continue;
                }
            }
        }
        let (open, close) = match bytes[value_start] {
            b'\'' | b'"'
                if value_end - value_start >= 2 && bytes[value_end - 1] == bytes[value_start] =>
            {
                (value_start + 1, value_end - 1)
            }
            // A quote never closed: the rest of the text is the value.
            b'\'' | b'"' => (value_start + 1, value_end),
            _ => (value_start, value_end),
        };
        // Already redacted (a message logged after it was shown).
        if open < copied || text[open..].starts_with(REDACTED) {
            continue;
        }
        out.push_str(&text[copied..open]);
        out.push_str(REDACTED);
        copied = close;
        search = value_end;
    }
    out.push_str(&text[copied..]);
    out
}

fn next_secret_word(lower: &str, from: usize) -> Option<(usize, usize)> {
    SECRET_WORDS
        .iter()
        .filter_map(|word| lower[from..].find(word).map(|at| (from + at, word.len())))
        .min()
}

/// Where a value starting at `start` ends (exclusive).
fn value_end(bytes: &[u8], start: usize) -> usize {
    let Some(&first) = bytes.get(start) else {
        return start;
    };
    if first == b'\'' || first == b'"' {
        let mut i = start + 1;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => i += 2,
                byte if byte == first => return (i + 1).min(bytes.len()),
                _ => i += 1,
            }
        }
        return bytes.len();
    }
    let mut i = start;
    while i < bytes.len()
        && !matches!(
            bytes[i],
            b' ' | b'\t' | b'\n' | b'\r' | b';' | b',' | b']' | b'}' | b'|'
        )
    {
        i += 1;
    }
    i
}

/// Where credentials (a token, base64) starting at `start` end.
fn credential_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start;
    while i < bytes.len()
        && (bytes[i].is_ascii_alphanumeric()
            || matches!(bytes[i], b'-' | b'_' | b'.' | b'~' | b'+' | b'/' | b'='))
    {
        i += 1;
    }
    i
}

/// The password of every `user:password@host`.
fn user_passwords(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (at, _) in text.match_indices('@') {
        // The user information: back to a space, a quote, a slash (the
        // end of `scheme://`) or a bracket.
        let mut start = at;
        while start > copied
            && !bytes[start - 1].is_ascii_whitespace()
            && !matches!(
                bytes[start - 1],
                b'/' | b'\''
                    | b'"'
                    | b'('
                    | b'<'
                    | b'['
                    | b'{'
                    | b','
                    | b';'
                    | b'='
                    | b'`'
                    | b'@'
                    | b'|'
            )
        {
            start -= 1;
        }
        let Some(colon) = text[start..at].find(':').map(|c| start + c) else {
            continue;
        };
        let user_ok = colon > start
            && bytes[start..colon].iter().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'%' | b'+' | b'-')
            });
        // `image:tag@sha256:…` is an image reference, not a password.
        let host_ok = bytes
            .get(at + 1)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'[')
            && !text[at + 1..].starts_with("sha256:");
        if !user_ok || !host_ok || colon + 1 == at || text[colon + 1..at] == *REDACTED {
            continue;
        }
        out.push_str(&text[copied..=colon]);
        out.push_str(REDACTED);
        copied = at;
    }
    out.push_str(&text[copied..]);
    out
}

/// The credentials after an HTTP authentication scheme, wherever it is.
fn after_schemes(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut search = 0;
    loop {
        let found = ["bearer ", "basic "]
            .iter()
            .filter_map(|scheme| {
                lower[search..]
                    .find(scheme)
                    .map(|at| (search + at, scheme.len()))
            })
            .min();
        let Some((at, len)) = found else {
            break;
        };
        search = at + len;
        if at > 0 && bytes[at - 1].is_ascii_alphanumeric() {
            continue;
        }
        let mut start = at + len;
        while start < bytes.len() && bytes[start] == b' ' {
            start += 1;
        }
        let end = credential_end(bytes, start);
        // A word of prose ("basic checks") is not credentials.
        if end - start < 8 || !bytes[start..end].iter().any(u8::is_ascii_digit) {
            continue;
        }
        out.push_str(&text[copied..start]);
        out.push_str(REDACTED);
        copied = end;
        search = end;
    }
    out.push_str(&text[copied..]);
    out
}

/// GitLab tokens, by their prefixes: the prefix kept, the rest redacted.
fn gitlab_tokens(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut search = 0;
    loop {
        let found = GITLAB_TOKEN_PREFIXES
            .iter()
            .filter_map(|prefix| {
                text[search..]
                    .find(prefix)
                    .map(|at| (search + at, prefix.len()))
            })
            .min();
        let Some((at, len)) = found else {
            break;
        };
        search = at + len;
        if at > 0 && bytes[at - 1].is_ascii_alphanumeric() {
            continue;
        }
        let start = at + len;
        let mut end = start;
        while end < bytes.len()
            && (bytes[end].is_ascii_alphanumeric() || matches!(bytes[end], b'-' | b'_'))
        {
            end += 1;
        }
        if end - start < 8 {
            continue;
        }
        out.push_str(&text[copied..start]);
        out.push_str(REDACTED);
        copied = end;
        search = end;
    }
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_private_key_s_body_is_redacted_and_a_certificate_is_not() {
        let text = "key:\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----\n\
                    -----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nMIIEvQ";
        let redacted = secrets(text);
        assert!(!redacted.contains("b3BlbnNzaC1rZXk"), "{redacted}");
        assert!(!redacted.contains("MIIEvQ"), "{redacted}");
        assert!(
            redacted.contains("-----END OPENSSH PRIVATE KEY-----"),
            "{redacted}"
        );
        assert!(redacted.contains("MIIB"), "{redacted}");
        assert_eq!(secrets(&redacted), redacted);
    }

    #[test]
    fn omnibus_secrets_are_redacted_and_the_rest_kept() {
        let config = "external_url 'http://git.example.org'; \
                      gitlab_rails['initial_root_password'] = 'S3cr3t pass;word'; \
                      gitlab_rails['initial_shared_runners_registration_token'] = \"tok-123\"; \
                      gitlab_rails['db_password']='p\\'w'; gitlab_rails['gitlab_shell_ssh_port'] = 2222";
        let redacted = secrets(config);
        for secret in ["S3cr3t", "pass;word", "tok-123", "p\\'w"] {
            assert!(!redacted.contains(secret), "{secret} in {redacted}");
        }
        assert!(redacted.contains("external_url 'http://git.example.org'"));
        assert!(redacted.contains("gitlab_rails['gitlab_shell_ssh_port'] = 2222"));
        assert!(redacted.contains("gitlab_rails['initial_root_password'] = '[REDACTED]'"));
    }

    #[test]
    fn environment_and_json_forms_are_redacted() {
        for (text, secret) in [
            ("GITLAB_ROOT_PASSWORD=hunter2 next", "hunter2"),
            ("\"SECRET_KEY_BASE\": \"abcdef\"", "abcdef"),
            ("api_token => xyz}", "xyz"),
            ("Password: hunter2", "hunter2"),
        ] {
            let redacted = secrets(text);
            assert!(!redacted.contains(secret), "{redacted}");
            assert!(redacted.contains(REDACTED), "{redacted}");
        }
        let plain = "instance 3 (girofle-gitlab-3) commissioned at http://x:8080";
        assert_eq!(secrets(plain), plain);
        assert_eq!(secrets("a password was reset"), "a password was reset");
    }

    /// `text` redacted holds none of `secrets`, and still holds `kept`.
    fn hidden(text: &str, secrets_in: &[&str], kept: &[&str]) {
        let redacted = secrets(text);
        for secret in secrets_in {
            assert!(
                !redacted.contains(secret),
                "{secret:?} left in {redacted:?}"
            );
        }
        for kept in kept {
            assert!(redacted.contains(kept), "{kept:?} lost from {redacted:?}");
        }
        assert!(redacted.contains(REDACTED), "{redacted:?}");
    }

    #[test]
    fn a_password_in_a_url_is_redacted_and_the_address_kept() {
        hidden(
            "POST http://hook:hunter2pw@127.0.0.1:9/alerts: connection refused",
            &["hunter2pw"],
            &["http://hook:", "@127.0.0.1:9/alerts: connection refused"],
        );
        hidden(
            "restic -r rest:https://girofle:s3cr3t-Pass@backup.example.org:8000/repo init",
            &["s3cr3t-Pass"],
            &["backup.example.org:8000/repo"],
        );
        // No password: nothing to hide.
        let plain = "rsync to girofle@10.0.0.5:/srv/girofle failed; see ssh://git@host/x; \
                     image gitlab/gitlab-ce:17.6.0@sha256:0123abcd";
        assert_eq!(secrets(plain), plain);
    }

    #[test]
    fn gitlab_key_bases_are_redacted() {
        for (text, secret) in [
            ("  \"db_key_base\": \"4f1c0ffee\",", "4f1c0ffee"),
            ("gitlab_rails['otp_key_base'] = 'a9b8c7d6'", "a9b8c7d6"),
            ("secret_key_base: 0d15ea5e0d15ea5e", "0d15ea5e0d15ea5e"),
            (
                "{\"gitlab_rails\": {\"secret_key_base\": \"aa11\", \"db_key_base\": \"bb22\", \"otp_key_base\": \"cc33\"}}",
                "bb22",
            ),
            ("DB_KEY_BASE=feedface", "feedface"),
        ] {
            hidden(text, &[secret], &[]);
        }
        let all = secrets(
            "{\"gitlab_rails\": {\"secret_key_base\": \"aa11\", \"db_key_base\": \"bb22\", \"otp_key_base\": \"cc33\"}}",
        );
        for secret in ["aa11", "bb22", "cc33"] {
            assert!(!all.contains(secret), "{all}");
        }
    }

    #[test]
    fn authorization_headers_and_gitlab_tokens_are_redacted() {
        hidden(
            "curl -H 'Authorization: Bearer glpat-AbCdEf123456_xyz' https://git.example.org/api/v4/user",
            &["AbCdEf123456_xyz"],
            &["https://git.example.org/api/v4/user"],
        );
        hidden(
            "Authorization: Basic Z2lyb2ZsZTpodW50ZXIy",
            &["Z2lyb2ZsZTpodW50ZXIy"],
            &[],
        );
        hidden(
            "fatal: unable to access 'https://oauth2:glpat-Zz9Yy8Xx7Ww6@gitlab.example.org/grp/app.git/'",
            &["Zz9Yy8Xx7Ww6"],
            &["gitlab.example.org/grp/app.git"],
        );
        hidden(
            "remote: oauth2:glpat-Qq1Rr2Ss3Tt4@gitlab.example.org",
            &["Qq1Rr2Ss3Tt4"],
            &[],
        );
        hidden(
            "a token glrt-RuNnEr0123456789 in a log line",
            &["RuNnEr0123456789"],
            &[],
        );
    }

    #[test]
    fn access_keys_and_password_flags_are_redacted() {
        hidden(
            "access_key = AKIAIOSFODNN7EXAMPLE",
            &["AKIAIOSFODNN7EXAMPLE"],
            &[],
        );
        hidden(
            "{\"access_key\": \"wJalrXUtnFEMI\", \"region\": \"eu\"}",
            &["wJalrXUtnFEMI"],
            &["\"region\": \"eu\""],
        );
        hidden(
            "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIK7MDENG",
            &["wJalrXUtnFEMIK7MDENG"],
            &[],
        );
        hidden(
            "running mysqldump --user root --password hunter2 --all",
            &["hunter2"],
            &["--user root", "--all"],
        );
        hidden("gitlab-ctl x --db-password 'p w'", &["p w"], &[]);
        hidden("--token=abc123 next", &["abc123"], &["next"]);
        // A flag that names a file or stdin carries no secret.
        let plain = "restic --password-file /root/restic-pass snapshots";
        assert_eq!(secrets(plain), plain);
    }

    /// Any text is taken, multi-byte characters and truncated forms
    /// included, and redacting twice changes nothing more.
    #[test]
    fn odd_text_is_taken_and_redacting_twice_changes_nothing() {
        for text in [
            "mot de passe é: password=\u{e9}t\u{e9}\u{1f512} ; token: \"non fermé",
            "http://é:ü@hôte/ user:@host :pw@host @@ ::@ a:b@",
            "--password",
            "Authorization: ",
            "Bearer ",
            "glpat-",
            "password=\"a\\",
            "\u{1f512}@\u{1f512}:x@y",
        ] {
            let once = secrets(text);
            assert_eq!(secrets(&once), once, "{text:?}");
        }
    }
}
