//! A project's name and path made from any folder name, by GitLab's own rules
//! (as its code states them, `lib/gitlab/regex.rb` and `path_regex.rb` of
//! GitLab 16–17), and a user name made into a valid ref component.
//!
//! The name keeps what the person wrote wherever GitLab allows it; the path
//! is plain ASCII (`Présentation` gives `presentation`). The folder's name as
//! the person wrote it is kept beside, in the project's description.

/// The project paths GitLab reserves (`PROJECT_WILDCARD_ROUTES`, its
/// `ILLEGAL_PROJECT_PATH_WORDS`), refused whatever their case.
pub const RESERVED_PATHS: [&str; 17] = [
    "badges",
    "blame",
    "blob",
    "builds",
    "commits",
    "create",
    "create_dir",
    "edit",
    "files",
    "find_file",
    "new",
    "preview",
    "raw",
    "refs",
    "tree",
    "update",
    "wikis",
];

/// How long a made path may be (GitLab allows 255; a folder name that long
/// is no one's).
const PATH_MAX: usize = 100;

/// How long a made name may be (GitLab allows 255).
const NAME_MAX: usize = 200;

/// Whether GitLab's `project_name_regex` takes `c`:
/// `[\p{Alnum}\u{00A9}-\u{1f9ff}_]` first, then also `\p{Pd}`, `+`, `.`
/// and space.
fn name_char(c: char, first: bool) -> bool {
    let code = c as u32;
    if c.is_ascii_alphanumeric() || c == '_' || (0xA9..=0x1F9FF).contains(&code) {
        return true;
    }
    if code > 0x1F9FF && c.is_alphanumeric() {
        return true;
    }
    !first && matches!(c, '-' | '+' | '.' | ' ')
}

/// Whether GitLab takes `name` as a project's name.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| name_char(c, true)) && chars.all(|c| name_char(c, false))
}

/// A project name GitLab takes, as close to `folder` as it allows: a
/// straight apostrophe becomes a typographic one (which GitLab takes), `&`
/// a `+`, any other character it refuses a space; no leading punctuation.
pub fn project_name(folder: &str) -> String {
    let mut out = String::new();
    for c in folder.chars() {
        let c = match c {
            '\'' | '`' => '\u{2019}',
            '&' => '+',
            c if name_char(c, false) => c,
            _ => ' ',
        };
        if c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        if out.is_empty() && !name_char(c, true) {
            continue;
        }
        out.push(c);
    }
    let mut out: String = out.trim_end().chars().take(NAME_MAX).collect();
    out.truncate(out.trim_end().len());
    if out.is_empty() { "Folder".into() } else { out }
}

/// A project path GitLab takes, from `folder`: ASCII (accents and other
/// scripts transliterated), lower case, letters and digits with single
/// `-`, `_` or `.` between them (`oci_repository_path_regex`), not ending in
/// `.git` or `.atom`, not a reserved word.
pub fn project_path(folder: &str) -> String {
    // Letters and digits transliterated; symbols and emoji (which
    // transliteration would spell out in English words) are separators.
    let ascii: String = folder
        .chars()
        .map(|c| {
            if c.is_ascii() {
                c.to_string()
            } else if c.is_alphanumeric() {
                deunicode::deunicode_char(c).unwrap_or(" ").to_string()
            } else {
                " ".to_string()
            }
        })
        .collect::<String>()
        .to_ascii_lowercase();
    let mut out = String::new();
    // The characters between two letters or digits.
    let mut between = String::new();
    for c in ascii.chars() {
        if c.is_ascii_alphanumeric() {
            if !out.is_empty() && !between.is_empty() {
                match between.as_str() {
                    "-" | "_" | "." => out.push_str(&between),
                    _ => out.push('-'),
                }
            }
            between.clear();
            out.push(c);
        } else {
            between.push(c);
        }
    }
    if out.len() > PATH_MAX {
        out.truncate(PATH_MAX);
        out.truncate(out.trim_end_matches(['-', '_', '.']).len());
    }
    if out.is_empty() {
        return "folder".into();
    }
    for suffix in [".git", ".atom"] {
        if out.ends_with(suffix) {
            let at = out.len() - suffix.len();
            out.replace_range(at..at + 1, "-");
        }
    }
    if RESERVED_PATHS.contains(&out.as_str()) {
        out.push_str("-folder");
    }
    out
}

/// The `n`th name and path tried for a folder whose first ones are taken
/// (`Notes 2`, `notes-2`).
pub fn numbered(name: &str, path: &str, n: usize) -> (String, String) {
    if n <= 1 {
        (name.to_string(), path.to_string())
    } else {
        (format!("{name} {n}"), format!("{path}-{n}"))
    }
}

/// Whether `name` is what [`project_name`] and [`numbered`] make of
/// `folder`: the project's description then holds the folder's own name.
pub fn made_from(name: &str, folder: &str) -> bool {
    let base = project_name(folder);
    name == base
        || name
            .strip_prefix(&base)
            .and_then(|rest| rest.strip_prefix(' '))
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

/// A form of a user name that is always a valid ref component
/// (`git check-ref-format`): the name itself when it is one, which it almost
/// always is; otherwise every character but letters, digits, `_` and `-`
/// written `%XX`. GitLab allows names such as `jo.lock` or `.jo`, which git
/// refuses in a ref; a GitLab user name never holds `%`, so the two forms
/// never meet.
pub fn ref_component(name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.ends_with(".lock")
        && !name.contains("..");
    if plain {
        return name.to_string();
    }
    crate::percent::encode(name, crate::percent::REF_COMPONENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_what_gitlab_allows() {
        assert_eq!(project_name("Rapport d'activité"), "Rapport d’activité");
        assert_eq!(project_name("Budget (2024)"), "Budget 2024");
        assert_eq!(project_name("Q&A"), "Q+A");
        assert_eq!(project_name(".config"), "config");
        assert_eq!(project_name("Dash – is this"), "Dash – is this");
        assert_eq!(project_name("(((("), "Folder");
        for name in [
            "Rapport d'activité",
            "Budget (2024)",
            "Q&A",
            "🫠 x",
            "-a",
            "a/b",
        ] {
            assert!(is_valid_name(&project_name(name)), "{name}");
        }
        assert!(made_from("Budget 2024 3", "Budget (2024)"));
        assert!(!made_from("Budget", "Budget (2024)"));
    }

    #[test]
    fn paths_are_plain_and_never_reserved() {
        assert_eq!(project_path("Présentation"), "presentation");
        assert_eq!(project_path("Bilan été 2026"), "bilan-ete-2026");
        assert_eq!(project_path("Mr. Smith"), "mr-smith");
        assert_eq!(project_path("Q1 - budget"), "q1-budget");
        assert_eq!(project_path("notes__2024"), "notes-2024");
        assert_eq!(project_path("report-final-.docs"), "report-final-docs");
        assert_eq!(project_path("v1.2_notes"), "v1.2_notes");
        assert_eq!(project_path("Files"), "files-folder");
        assert_eq!(project_path("site.git"), "site-git");
        assert_eq!(project_path("!!!"), "folder");
        assert_eq!(project_path("🫠 notes__2024"), "notes-2024");
        assert_eq!(project_path("Документы"), "dokumenty");
    }

    #[test]
    fn ref_components_are_valid() {
        assert_eq!(ref_component("alice"), "alice");
        assert_eq!(ref_component("jean.dupont"), "jean.dupont");
        assert_eq!(ref_component("eve.lock"), "eve%2Elock");
        assert_eq!(ref_component(".jo"), "%2Ejo");
        assert_eq!(ref_component("a..b"), "a%2E%2Eb");
    }
}
