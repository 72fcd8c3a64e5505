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
    micros_timestamp(now_micros())
}

/// The current time in microseconds since the Unix epoch.
pub fn now_micros() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000).unwrap_or(0)
}

/// The API timestamp of `micros` microseconds since the Unix epoch.
pub fn micros_timestamp(micros: i64) -> String {
    let mut buffer = [0u8; 32];
    match format_micros(micros, &mut buffer) {
        Some(text) => text.to_owned(),
        None => api_timestamp(
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH),
        ),
    }
}

/// Appends the API timestamp of `micros` microseconds since the Unix epoch to `out`, without
/// allocating for the years 0000..=9999.
pub fn write_timestamp(micros: i64, out: &mut Vec<u8>) {
    let mut buffer = [0u8; 32];
    match format_micros(micros, &mut buffer) {
        Some(text) => out.extend_from_slice(text.as_bytes()),
        None => out.extend_from_slice(micros_timestamp(micros).as_bytes()),
    }
}

/// Writes the API timestamp of `micros` microseconds since the Unix epoch into `buffer`, by hand
/// (the civil-from-days algorithm of H. Hinnant) and without allocating, for the years
/// 0000..=9999 (`None` for others, which [`micros_timestamp`] formats with the `time` crate).
/// Every check-in, listing row and access-log line is written through this.
pub fn format_micros(micros: i64, buffer: &mut [u8; 32]) -> Option<&str> {
    let sub_second = micros.rem_euclid(1_000_000);
    let seconds = micros.div_euclid(1_000_000);
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    if !(0..=9999).contains(&year) {
        return None;
    }
    *buffer = *b"0000-00-00T00:00:00.000000+00:00";
    let mut put = |at: usize, width: usize, mut value: i64| {
        for i in (at..at + width).rev() {
            buffer[i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, month);
    put(8, 2, day);
    put(11, 2, of_day / 3600);
    put(14, 2, of_day / 60 % 60);
    put(17, 2, of_day % 60);
    put(20, 6, sub_second);
    std::str::from_utf8(&buffer[..]).ok()
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
    fn hand_formatting_agrees_with_the_time_crate() {
        let slow = |micros: i64| {
            api_timestamp(
                OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000).unwrap(),
            )
        };
        let mut micros: i64 = -62_167_219_200_000_000; // 0000-01-01
        let end: i64 = 253_402_300_799_999_999; // 9999-12-31T23:59:59.999999
        while micros <= end {
            let mut buffer = [0u8; 32];
            assert_eq!(
                format_micros(micros, &mut buffer),
                Some(&*slow(micros)),
                "{micros}"
            );
            micros += 987_654_321_987; // about 11 days and a bit, odd micros
        }
        for micros in [
            -1,
            0,
            1,
            86_399_999_999,
            86_400_000_000,
            951_782_400_000_000,
        ] {
            assert_eq!(micros_timestamp(micros), slow(micros));
        }
        assert_eq!(format_micros(end + 1, &mut [0u8; 32]), None);
        for micros in [0, end, end + 1] {
            let mut out = b"x".to_vec();
            write_timestamp(micros, &mut out);
            assert_eq!(out, [b"x", micros_timestamp(micros).as_bytes()].concat());
        }
    }

    #[test]
    fn pads_whole_seconds() {
        let at = datetime!(2026-01-03 13:25:53 UTC);
        assert_eq!(api_timestamp(at), "2026-01-03T13:25:53.000000+00:00");
    }
}
