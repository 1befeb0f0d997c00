//! Percent-encoding, the one way: each caller names the few characters its
//! place lets through as they are (letters and digits always are).

/// RFC 3986's unreserved characters: a segment of an address or a query
/// value (GitLab wants `namespace%2Fpath`).
pub const UNRESERVED: &[u8] = b"-_.~";

/// RFC 5987's `attr-char`: a header's `filename*`, where no name can then
/// add a header of its own.
pub const ATTR_CHAR: &[u8] = b"!#$&+-.^_`|~";

/// What a ref component keeps whatever its place in the name (`.` is
/// refused at its ends and twice in a row, so it is encoded too).
pub const REF_COMPONENT: &[u8] = b"_-";

/// `text` with every byte but ASCII letters, digits and those of `keep`
/// written `%XX`.
pub fn encode(text: &str, keep: &[u8]) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || keep.contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_place_keeps_its_own_characters() {
        assert_eq!(
            encode("alice/report-2026", UNRESERVED),
            "alice%2Freport-2026"
        );
        assert_eq!(encode("a b", UNRESERVED), "a%20b");
        assert_eq!(encode("a.b~c", UNRESERVED), "a.b~c");
        assert_eq!(encode("eve.lock", REF_COMPONENT), "eve%2Elock");
        assert_eq!(
            encode("r\u{e9}sum\u{e9} (1)!.txt", ATTR_CHAR),
            "r%C3%A9sum%C3%A9%20%281%29!.txt"
        );
        assert_eq!(encode("a\r\nb;c\"", ATTR_CHAR), "a%0D%0Ab%3Bc%22");
    }
}
