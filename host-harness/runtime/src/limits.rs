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

/// How the engine allocates each call's instance: memory, tables and stack.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InstanceAllocation {
    /// mmap'd per instance and freed at the end of the call.
    #[default]
    OnDemand,
    /// Slots reserved once for up to `instances` concurrent calls and reused:
    /// a memory slot is reset to the module's copy-on-write image instead of
    /// being mapped and initialised again.
    Pooling { instances: u32 },
}
