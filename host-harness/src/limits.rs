//! What one call may use. Set in one place, applied to every `Store`.

use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Limits {
    /// Linear memory the component may grow to, in bytes.
    pub memory_bytes: usize,
    /// Wall-clock time a call may take, upstream waits included.
    pub call_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 64 << 20,
            call_timeout: Duration::from_secs(60),
        }
    }
}
