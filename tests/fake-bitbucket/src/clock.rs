//! Time as the fake keeps it: whole seconds since 2024-01-01T00:00:00Z, so
//! seeded and live objects compare and sort with plain integers.

use std::time::{SystemTime, UNIX_EPOCH};

/// 2024-01-01T00:00:00Z as a Unix time.
const EPOCH_2024: u64 = 1_704_067_200;

/// 2026-11-23T00:00:00Z: the seed data is dated just before it.
pub const SEED_NOW: u64 = 1_057 * 86_400;

pub const HOUR: u64 = 3_600;
pub const DAY: u64 = 86_400;

/// The wall clock, never earlier than the seed data, so that new objects
/// always sort after seeded ones even on a machine with a stale clock.
pub fn wall() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        .saturating_sub(EPOCH_2024)
        .max(SEED_NOW + DAY / 2)
}

/// Bitbucket's timestamp with microseconds, e.g. `2026-11-23T08:01:02.123456+00:00`.
pub fn stamp(at: u64) -> String {
    timestamp(at / DAY, at % DAY)
}

/// Git's commit date, which Bitbucket renders without fractions.
pub fn git_date(at: u64) -> String {
    let full = stamp(at);
    match (full.find('.'), full.find('+')) {
        (Some(dot), Some(plus)) => format!("{}{}", &full[..dot], &full[plus..]),
        _ => full,
    }
}

/// Bitbucket's timestamp format, `days` after 2024-01-01 and `seconds` into
/// that day (modulo a day). The microseconds are derived from `seconds` so
/// that stamps vary there too, as real ones do.
pub fn timestamp(days: u64, seconds: u64) -> String {
    let (mut year, mut day) = (2024u64, days);
    loop {
        let length = if year % 4 == 0 { 366 } else { 365 };
        if day < length {
            break;
        }
        day -= length;
        year += 1;
    }
    let months = [
        31,
        if year % 4 == 0 { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let mut month = 0;
    while day >= months[month] {
        day -= months[month];
        month += 1;
    }
    let s = seconds % 86_400;
    format!(
        "{year:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+00:00",
        month + 1,
        day + 1,
        s / 3600,
        (s / 60) % 60,
        s % 60,
        (seconds * 7919) % 1_000_000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_now_is_the_day_the_notes_were_compiled() {
        assert!(stamp(SEED_NOW).starts_with("2026-11-23T00:00:00"));
        assert_eq!(git_date(SEED_NOW + 61), "2026-11-23T00:01:01+00:00");
    }
}
