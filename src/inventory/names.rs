//! The names a row holds, checked as Docker, DNS and the inventory want them.

/// The longest instance name.
pub const MAX_NAME_LENGTH: usize = 40;

/// An instance name: `[a-z0-9][a-z0-9_-]*`, at most [`MAX_NAME_LENGTH`]
/// characters. The error says what is wrong.
pub fn check_name(name: &str) -> Result<(), String> {
    let valid_start = name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit());
    let valid_rest = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if name.is_empty() {
        Err("the instance name is empty".into())
    } else if name.len() > MAX_NAME_LENGTH {
        Err(format!(
            "the instance name `{name}` has {} characters; at most {MAX_NAME_LENGTH} are allowed",
            name.len()
        ))
    } else if !valid_start || !valid_rest {
        Err(format!(
            "the instance name `{name}` is invalid: use lower-case letters, digits, `_` and `-`, starting with a letter or digit"
        ))
    } else {
        Ok(())
    }
}

/// A host name (RFC 1123 labels, or an IPv4 address written as one).
pub fn is_host_name(hostname: &str) -> bool {
    !hostname.is_empty()
        && hostname.len() <= 253
        && hostname.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// A container name as Docker accepts it: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub fn is_container_name(name: &str) -> bool {
    name.len() <= 128
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// An image reference: `[registry[:port]/]repository[:tag][@digest]`, in
/// the characters Docker's grammar allows, never an option.
pub fn is_image_reference(image: &str) -> bool {
    !image.is_empty()
        && image.len() <= 255
        && image.starts_with(|c: char| c.is_ascii_alphanumeric())
        && image
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/:@".contains(c))
}

/// What is wrong with an ACME directory URL, if anything. It ends up quoted
/// in GitLab's Ruby configuration, so it is held to a plain `https://` URL:
/// no quote, backslash, `;`, space or control character. Plain HTTP is refused:
/// the ACME account key and the certificates would cross the network in
/// the clear, and ACME (RFC 8555, section 6.1) requires HTTPS.
pub fn check_acme_url(url: &str) -> Option<String> {
    let Some(rest) = url.strip_prefix("https://") else {
        return Some(format!("--acme-url `{url}`: not an https:// URL"));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.starts_with(':') {
        return Some(format!("--acme-url `{url}`: no host name"));
    }
    if url
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || "'\"\\`<>{}|^;".contains(c))
    {
        return Some(format!(
            "--acme-url `{url}`: holds a character a URL does not (quote, backslash, space...)"
        ));
    }
    None
}

/// What is wrong with a contact address for the ACME account, if anything:
/// `local@domain`, a domain with a dot, and nothing that could break out of
/// the Ruby string it is written into.
pub fn check_email(address: &str) -> Option<String> {
    let plausible = match address.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && local.len() <= 64
                && address.len() <= 254
                && local
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "!#$%&*+-/=?^_{|}~.".contains(c))
                && !local.starts_with('.')
                && !local.ends_with('.')
                && domain.contains('.')
                && is_host_name(domain)
        }
        None => false,
    };
    (!plausible).then(|| format!("--email `{address}`: not an email address (name@domain.example)"))
}
