//! Timestamps as Girofle writes them: UTC, second precision.

use time::OffsetDateTime;
use time::macros::format_description;

/// `2026-11-25T14:30:00Z`, for logs and inventory rows.
pub fn now_rfc3339() -> String {
    rfc3339(OffsetDateTime::now_utc())
}

/// `2026-11-25T14:30:00Z` for the given instant.
pub fn rfc3339(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .expect("a UTC date always formats")
}
