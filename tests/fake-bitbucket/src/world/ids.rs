//! Bitbucket's `{uuid}` identifiers: made up from numbers, and accepted
//! with or without their braces.

/// `{8-4-4-4-12}` from a number: stable across runs, unique per seed.
pub(crate) fn uuid(n: u64) -> String {
    format!(
        "{{{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}}}",
        n.wrapping_mul(2_654_435_761) & 0xffff_ffff,
        n & 0xffff,
        (n >> 4) & 0xfff,
        (n >> 8) & 0xfff,
        n.wrapping_mul(11_400_714_819_323_198_485) & 0xffff_ffff_ffff
    )
}

/// `{uuid}` whether or not the caller kept the braces.
pub(crate) fn braced(uuid: &str) -> String {
    let uuid = uuid.trim();
    if uuid.starts_with('{') {
        uuid.to_owned()
    } else {
        format!("{{{uuid}}}")
    }
}
