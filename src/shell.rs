//! Quoting for the one place a shell cannot be avoided: the command line a
//! remote sshd hands to the remote user's shell (and cron's `/bin/sh`).

/// Quotes a word for a POSIX shell; plain words stay as they are.
pub fn quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-=:@+,".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// A command line of quoted words.
pub fn join(words: &[&str]) -> String {
    words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_with_spaces_and_quotes_are_quoted() {
        assert_eq!(quote("/girofle home"), "'/girofle home'");
        assert_eq!(quote("it's"), "'it'\\''s'");
        assert_eq!(
            quote("/usr/local/bin/girofle-backup"),
            "/usr/local/bin/girofle-backup"
        );
        assert_eq!(quote(""), "''");
    }
}
