//! Times and names as the person reads them: local time, short.

use std::sync::OnceLock;

use time::{OffsetDateTime, UtcOffset};

static LOCAL: OnceLock<UtcOffset> = OnceLock::new();

/// Reads the local time offset; call it first thing in `main`, while the
/// process has one thread (the only time the C library lets it be read
/// safely). Without it, times are shown in UTC.
pub fn init_local_offset() {
    let offset = UtcOffset::current_local_offset().unwrap_or(UtcOffset::UTC);
    let _ = LOCAL.set(offset);
}

fn local(at: OffsetDateTime) -> OffsetDateTime {
    at.to_offset(LOCAL.get().copied().unwrap_or(UtcOffset::UTC))
}

/// `14:05` today, `24 Nov 14:05` another day of this year, `24 Nov 2025 14:05` before.
pub fn when(at: OffsetDateTime) -> String {
    let now = local(OffsetDateTime::now_utc());
    let at = local(at);
    let clock = format!("{:02}:{:02}", at.hour(), at.minute());
    let month = crate::tr!("month-short", month = at.month() as u8);
    if at.date() == now.date() {
        clock
    } else if at.year() == now.year() {
        format!("{} {month} {clock}", at.day())
    } else {
        format!("{} {month} {} {clock}", at.day(), at.year())
    }
}

/// `2026-11-25 14-05-12`: a stamp for names of copies (sorts by age, no
/// characters that file managers dislike).
pub fn stamp(at: OffsetDateTime) -> String {
    let at = local(at);
    format!(
        "{:04}-{:02}-{:02} {:02}-{:02}-{:02}",
        at.year(),
        at.month() as u8,
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// "1 file", "2 files".
pub fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_times() {
        let now = OffsetDateTime::now_utc();
        assert_eq!(when(now).len(), 5);
        let then = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        assert_eq!(when(then), "14 Nov 2023 22:13");
        assert_eq!(stamp(then), "2023-11-14 22-13-20");
        assert_eq!(count(1, "file", "files"), "1 file");
        assert_eq!(count(3, "file", "files"), "3 files");
    }
}
