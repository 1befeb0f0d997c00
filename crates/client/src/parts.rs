//! A text file's changes cut into parts: the passages that differ between its
//! content in the last version and its content now, each one a change the
//! person can put into a prepared version on its own; and a chosen set of
//! parts put back onto the old content.
//!
//! Pure: bytes and strings in, values out. Lines keep their own endings, so
//! that a file put back from its parts is the same byte for byte (a missing
//! last newline, `\r\n` endings).

use serde::{Deserialize, Serialize};

/// Unchanged lines between two changed passages below which they stay one
/// part: edits that close belong together for the person.
const JOIN_BELOW: usize = 3;

/// Above this many line pairs to compare, the changed middle of a file is
/// one part: the comparison's table would take too much memory.
const MOST_PAIRS: usize = 16_000_000;

/// One changed passage of a text file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// The first line it replaces in the old content, from 0.
    pub at: usize,
    /// The old content's lines it replaces (empty for lines added).
    pub old: Vec<String>,
    /// The lines it puts there instead (empty for lines removed).
    pub new: Vec<String>,
}

/// Why a set of parts cannot be put onto an old content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Misfit {
    /// The old content no longer holds what the part replaces.
    Moved(usize),
    /// Two parts claim the same lines.
    Overlap(usize),
}

/// Whether `bytes` can be shown and cut as text: valid UTF-8 without NUL
/// (what office files and images never are).
pub fn is_text(bytes: &[u8]) -> bool {
    !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok()
}

/// The lines of `text`, each with its own ending (the last one may have none).
pub fn lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

/// The parts in which `new` differs from `old`, in the file's order.
pub fn split(old: &str, new: &str) -> Vec<Part> {
    let (a, b) = (lines(old), lines(new));
    let mut spans = changed_spans(&a, &b);
    // Close passages join: a line between two edits is rarely a boundary.
    let mut joined: Vec<Span> = Vec::new();
    for span in spans.drain(..) {
        match joined.last_mut() {
            Some(last) if span.old.0 - last.old.1 < JOIN_BELOW => {
                last.old.1 = span.old.1;
                last.new.1 = span.new.1;
            }
            _ => joined.push(span),
        }
    }
    joined
        .into_iter()
        .map(|span| Part {
            at: span.old.0,
            old: a[span.old.0..span.old.1]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            new: b[span.new.0..span.new.1]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        })
        .collect()
}

/// A changed passage: old lines `old.0..old.1` became new lines `new.0..new.1`.
#[derive(Debug, Clone, Copy)]
struct Span {
    old: (usize, usize),
    new: (usize, usize),
}

/// The maximal runs of lines that differ, through the longest run of lines
/// the two have in common.
fn changed_spans(a: &[&str], b: &[&str]) -> Vec<Span> {
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (ma, mb) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    if ma.is_empty() && mb.is_empty() {
        return vec![];
    }
    if ma.is_empty() || mb.is_empty() || (ma.len() + 1) * (mb.len() + 1) > MOST_PAIRS {
        return vec![Span {
            old: (prefix, prefix + ma.len()),
            new: (prefix, prefix + mb.len()),
        }];
    }
    // common[i][j]: the longest run in common of ma[i..] and mb[j..].
    let width = mb.len() + 1;
    let mut common = vec![0u32; (ma.len() + 1) * width];
    for i in (0..ma.len()).rev() {
        for j in (0..mb.len()).rev() {
            common[i * width + j] = if ma[i] == mb[j] {
                common[(i + 1) * width + j + 1] + 1
            } else {
                common[(i + 1) * width + j].max(common[i * width + j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut spans = Vec::new();
    let mut open: Option<Span> = None;
    while i < ma.len() || j < mb.len() {
        let same = i < ma.len() && j < mb.len() && ma[i] == mb[j];
        if same {
            spans.extend(open.take());
            i += 1;
            j += 1;
            continue;
        }
        let span = open.get_or_insert(Span {
            old: (prefix + i, prefix + i),
            new: (prefix + j, prefix + j),
        });
        let drop_old = j == mb.len()
            || (i < ma.len() && common[(i + 1) * width + j] >= common[i * width + j + 1]);
        if drop_old {
            i += 1;
            span.old.1 = prefix + i;
        } else {
            j += 1;
            span.new.1 = prefix + j;
        }
    }
    spans.extend(open);
    spans
}

/// `old` with `parts` put in (each made against `old`, in any order).
pub fn apply(old: &str, parts: &[&Part]) -> Result<String, Misfit> {
    let base = lines(old);
    let mut sorted: Vec<&Part> = parts.to_vec();
    sorted.sort_by_key(|p| (p.at, !p.old.is_empty()));
    let mut out = String::with_capacity(old.len());
    let mut next = 0;
    let mut inserted_at: Option<usize> = None;
    for part in sorted {
        // Two insertions at one line cannot be ordered; split never makes
        // them, but stored parts may come from two readings of the file.
        let twice = part.old.is_empty() && inserted_at == Some(part.at);
        if part.at < next || twice {
            return Err(Misfit::Overlap(part.at));
        }
        if part.old.is_empty() {
            inserted_at = Some(part.at);
        }
        let end = part.at + part.old.len();
        if end > base.len()
            || base[part.at..end]
                .iter()
                .zip(&part.old)
                .any(|(x, y)| x != y)
        {
            return Err(Misfit::Moved(part.at));
        }
        base[next..part.at].iter().for_each(|l| out.push_str(l));
        part.new.iter().for_each(|l| out.push_str(l));
        next = end;
    }
    base[next..].iter().for_each(|l| out.push_str(l));
    Ok(out)
}

/// What to show of `part`: up to `context` unchanged lines of `old` around
/// it (`' '`), the lines it removes (`'-'`) and those it adds (`'+'`).
pub fn shown<'a>(old: &'a str, part: &'a Part, context: usize) -> Vec<(char, &'a str)> {
    let base = lines(old);
    let start = part.at.min(base.len());
    let end = (part.at + part.old.len()).min(base.len());
    let mut out = Vec::new();
    for line in &base[start.saturating_sub(context)..start] {
        out.push((' ', *line));
    }
    out.extend(part.old.iter().map(|l| ('-', l.as_str())));
    out.extend(part.new.iter().map(|l| ('+', l.as_str())));
    for line in &base[end..(end + context).min(base.len())] {
        out.push((' ', *line));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(n: usize) -> String {
        (1..=n).map(|i| format!("line {i}\n")).collect()
    }

    fn all(old: &str, new: &str) -> String {
        let parts = split(old, new);
        apply(old, &parts.iter().collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn the_same_text_has_no_part() {
        assert!(split("a\nb\n", "a\nb\n").is_empty());
        assert!(split("", "").is_empty());
    }

    #[test]
    fn one_changed_line_is_one_part() {
        let old = text(10);
        let new = old.replace("line 5\n", "line five\n");
        let parts = split(&old, &new);
        assert_eq!(
            parts,
            vec![Part {
                at: 4,
                old: vec!["line 5\n".into()],
                new: vec!["line five\n".into()]
            }]
        );
    }

    #[test]
    fn far_apart_changes_are_separate_parts() {
        let old = text(30);
        let new = old
            .replace("line 2\n", "line two\n")
            .replace("line 20\n", "")
            .replace("line 29\n", "line 29\nadded\n");
        let parts = split(&old, &new);
        assert_eq!(parts.len(), 3, "{parts:?}");
        assert_eq!(parts[1].at, 19);
        assert!(parts[1].new.is_empty());
        assert_eq!(parts[2].new, vec!["added\n"]);
    }

    #[test]
    fn close_changes_are_one_part() {
        let old = text(10);
        let new = old
            .replace("line 3\n", "line three\n")
            .replace("line 5\n", "line five\n");
        let parts = split(&old, &new);
        assert_eq!(parts.len(), 1, "{parts:?}");
        assert_eq!(parts[0].old, vec!["line 3\n", "line 4\n", "line 5\n"]);
    }

    #[test]
    fn all_parts_put_back_give_the_new_text() {
        let old = text(40);
        let new = format!(
            "top\n{}",
            old.replace("line 10\n", "ten\n").replace("line 33\n", "")
        );
        assert_eq!(all(&old, &new), new);
        assert_eq!(all("", "new file\n"), "new file\n");
        assert_eq!(all("gone\n", ""), "");
    }

    #[test]
    fn no_part_gives_the_old_text() {
        let old = text(5);
        assert_eq!(apply(&old, &[]).unwrap(), old);
    }

    #[test]
    fn a_subset_of_parts_changes_only_its_passages() {
        let old = text(30);
        let new = old
            .replace("line 2\n", "line two\n")
            .replace("line 25\n", "line twenty-five\n");
        let parts = split(&old, &new);
        assert_eq!(parts.len(), 2);
        let first = apply(&old, &[&parts[0]]).unwrap();
        assert_eq!(first, old.replace("line 2\n", "line two\n"));
        let second = apply(&old, &[&parts[1]]).unwrap();
        assert_eq!(second, old.replace("line 25\n", "line twenty-five\n"));
    }

    #[test]
    fn the_order_parts_are_given_in_does_not_matter() {
        let old = text(30);
        let new = old
            .replace("line 1\n", "one\n")
            .replace("line 30\n", "thirty\n");
        let parts = split(&old, &new);
        assert_eq!(apply(&old, &[&parts[1], &parts[0]]).unwrap(), new);
    }

    #[test]
    fn a_missing_last_newline_and_crlf_are_kept() {
        let old = "a\r\nb\r\nc";
        let new = "a\r\nB\r\nc";
        assert_eq!(all(old, new), new);
        assert_eq!(all("a\nb", "a\nb\n"), "a\nb\n");
        assert_eq!(all("a\nb\n", "a\nb"), "a\nb");
    }

    #[test]
    fn a_part_whose_lines_moved_does_not_fit() {
        let old = text(10);
        let new = old.replace("line 5\n", "five\n");
        let parts = split(&old, &new);
        let changed = old.replace("line 5\n", "something else\n");
        assert_eq!(apply(&changed, &[&parts[0]]), Err(Misfit::Moved(4)));
        assert_eq!(apply("short\n", &[&parts[0]]), Err(Misfit::Moved(4)));
    }

    #[test]
    fn overlapping_parts_do_not_fit() {
        let old = text(10);
        let a = Part {
            at: 2,
            old: vec!["line 3\n".into(), "line 4\n".into()],
            new: vec![],
        };
        let b = Part {
            at: 3,
            old: vec!["line 4\n".into()],
            new: vec!["x\n".into()],
        };
        assert_eq!(apply(&old, &[&a, &b]), Err(Misfit::Overlap(3)));
    }

    #[test]
    fn text_is_utf8_without_nul() {
        assert!(is_text("Budget 2026 — été\n".as_bytes()));
        assert!(is_text(b""));
        assert!(!is_text(b"PK\x03\x04\x00\x00"));
        assert!(!is_text(&[0xff, 0xfe, 0x41]));
    }

    #[test]
    fn shown_with_a_few_lines_around() {
        let old = text(20);
        let new = old.replace("line 10\n", "ten\n");
        let parts = split(&old, &new);
        let shown = shown(&old, &parts[0], 3);
        let marks: String = shown.iter().map(|(m, _)| *m).collect();
        assert_eq!(marks, "   -+   ");
        assert_eq!(shown[0].1, "line 7\n");
        assert_eq!(shown[7].1, "line 13\n");
        let top = split(&old, &format!("new top\n{old}"));
        assert_eq!(super::shown(&old, &top[0], 3).len(), 4);
    }

    #[test]
    fn a_huge_middle_is_one_part() {
        let old: String = (0..5000).map(|i| format!("a{i}\n")).collect();
        let new: String = (0..5000).map(|i| format!("b{i}\n")).collect();
        let parts = split(&old, &new);
        assert_eq!(parts.len(), 1);
        assert_eq!(all(&old, &new), new);
    }

    #[test]
    fn moved_and_reworded_lines_round_trip() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n";
        let new = "b\nc\na\nd\nE\nf\ng\nh\nj\ni\n";
        assert_eq!(all(old, new), new);
    }
}
