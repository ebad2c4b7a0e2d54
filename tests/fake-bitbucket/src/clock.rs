//! Time as the fake keeps it: whole seconds since 2024-01-01T00:00:00Z, so
//! seeded and live objects compare and sort with plain integers.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::seed;

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
    seed::timestamp(at / DAY, at % DAY)
}

/// Git's commit date, which Bitbucket renders without fractions.
pub fn git_date(at: u64) -> String {
    let full = stamp(at);
    match (full.find('.'), full.find('+')) {
        (Some(dot), Some(plus)) => format!("{}{}", &full[..dot], &full[plus..]),
        _ => full,
    }
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
