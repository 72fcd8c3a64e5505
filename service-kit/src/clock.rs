//! Wall-clock helpers: the API's timestamp format and Unix seconds for tokens.

use time::format_description::FormatItem;
use time::macros::format_description;
use time::OffsetDateTime;

/// RFC 3339 in UTC with microseconds and an explicit `+00:00` offset, as the original service wrote
/// (`2026-01-03T13:25:53.415880+00:00`).
const API_TIMESTAMP: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]+00:00");

/// Formats `at` (converted to UTC) the way every timestamp in the API is written.
pub fn api_timestamp(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(API_TIMESTAMP)
        .unwrap_or_else(|_| String::from("1970-01-01T00:00:00.000000+00:00"))
}

/// The current time as an API timestamp.
pub fn now_timestamp() -> String {
    api_timestamp(OffsetDateTime::now_utc())
}

/// Seconds since the Unix epoch, now (0 if the clock is before 1970).
pub fn unix_now() -> u64 {
    u64::try_from(OffsetDateTime::now_utc().unix_timestamp()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn formats_with_microseconds_and_utc_offset() {
        let at = datetime!(2026-01-03 13:25:53.415880 +07:00);
        assert_eq!(api_timestamp(at), "2026-01-03T06:25:53.415880+00:00");
    }

    #[test]
    fn pads_whole_seconds() {
        let at = datetime!(2026-01-03 13:25:53 UTC);
        assert_eq!(api_timestamp(at), "2026-01-03T13:25:53.000000+00:00");
    }
}
