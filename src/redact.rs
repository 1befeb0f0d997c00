//! Secrets out of what Girofle logs and prints: a GitLab omnibus config or a
//! container environment may hold passwords and tokens (for instance
//! `gitlab_rails['initial_root_password'] = '...'`), and `girofle.log` is
//! readable by more people than root (it is copied into state backups too).

/// What replaces a secret value.
pub const REDACTED: &str = "[REDACTED]";

/// Words that make a key's value a secret, matched case-insensitively
/// anywhere in the key (`initial_root_password`, `runner_token`, `secret_key_base`...).
const SECRET_WORDS: [&str; 5] = ["password", "passwd", "token", "secret", "private_key"];

/// `text` with the value of every `KEY = VALUE`, `KEY => VALUE`, `KEY: VALUE`
/// or `KEY=VALUE` whose key names a secret replaced by [`REDACTED`]. The value
/// is a quoted string (single or double quotes, backslash escapes) or a bare
/// word ending at a space, `;`, `,`, `]`, `}` or the end of the line.
pub fn secrets(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut search = 0;
    while let Some((word_start, word_len)) = next_secret_word(&lower, search) {
        search = word_start + word_len;
        // The rest of the key: identifier characters, then closing quotes and brackets.
        let mut i = search;
        while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
            i += 1;
        }
        while i < bytes.len() && matches!(bytes[i], b'\'' | b'"' | b']' | b' ' | b'\t') {
            i += 1;
        }
        // The separator.
        let separator = if text[i..].starts_with("=>") {
            2
        } else if i < bytes.len() && matches!(bytes[i], b'=' | b':') {
            1
        } else {
            0
        };
        if separator == 0 {
            continue;
        }
        i += separator;
        while i < bytes.len() && matches!(bytes[i], b' ' | b'\t') {
            i += 1;
        }
        let value_start = i;
        let value_end = value_end(bytes, value_start);
        if value_end == value_start {
            continue;
        }
        let (open, close) = match bytes[value_start] {
            b'\'' | b'"' if value_end - value_start >= 2 => (value_start + 1, value_end - 1),
            _ => (value_start, value_end),
        };
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
                byte if byte == first => return i + 1,
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
