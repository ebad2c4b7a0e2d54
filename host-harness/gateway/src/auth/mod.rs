//! Who may call: the screen every request passes (`guard`), the registered
//! tenants and their keys (`directory`, remembering the keys it verified in
//! `remembered`), and the caller a request proves itself to be
//! (`principal`).

pub mod directory;
pub mod guard;
pub mod principal;
mod remembered;
