//! The clock rows are stamped with, as the integers both databases store.

use atom_runtime::unix_now;

/// Unix seconds now.
pub(crate) fn now_secs() -> i64 {
    to_i64(unix_now())
}

/// Unix milliseconds now: refresh leases last seconds, so whole seconds
/// would be too coarse for them.
pub(crate) fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        })
}

/// Both databases store signed 64-bit integers: anything beyond is as far
/// in the future as they can say.
pub(crate) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A stored timestamp: a negative one can only come from a tampered row,
/// and reads as the epoch.
pub(crate) fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}
