//! What the tenant registry does, whichever backend holds it.

use super::backend::Backend;
use super::{first_mark, moves_from};
use crate::key_id;
use crate::tenants::split_key;

for_each_backend!(
    a_key_acts_as_its_tenant_until_rotated_or_revoked,
    forged_and_malformed_keys_act_as_nobody,
    names_are_checked,
    unknown_tenants_are_refused,
    a_rotation_or_revocation_elsewhere_moves_the_change_mark,
    a_revocation_by_another_process_moves_the_change_mark,
);

/// What lets the gateway remember verified keys: another handle's (another
/// process's, another replica's) rotation and revocation move the mark.
fn a_rotation_or_revocation_elsewhere_moves_the_change_mark(backend: &Backend) {
    let watching = backend.tenants();
    let elsewhere = backend.tenants();
    elsewhere.add("acme").unwrap();
    let mark = || watching.change_mark();
    let before = first_mark(mark);
    elsewhere.rotate_key("acme").unwrap();
    assert!(moves_from(before, mark), "a rotation elsewhere");
    let before = first_mark(mark);
    elsewhere.revoke("acme").unwrap();
    assert!(moves_from(before, mark), "a revocation elsewhere");
    let before = first_mark(mark);
    watching.add("globex").unwrap();
    watching.rotate_key("globex").unwrap();
    assert_ne!(watching.change_mark(), Some(before), "its own, at once");
}

/// A commit on a connection none of this process's handles share (another
/// process's) reaches the mark too: SQLite's within its poll interval,
/// PostgreSQL's when its notification arrives.
fn a_revocation_by_another_process_moves_the_change_mark(backend: &Backend) {
    let watching = backend.tenants();
    watching.add("acme").unwrap();
    let mark = || watching.change_mark();
    let before = first_mark(mark);
    backend.execute("UPDATE api_keys SET revoked_at = 1 WHERE tenant = 'acme'");
    assert!(moves_from(before, mark), "a revocation by another process");
}

fn a_key_acts_as_its_tenant_until_rotated_or_revoked(backend: &Backend) {
    let registry = backend.tenants();
    let first = registry.add("acme").unwrap();
    let other = registry.add("globex").unwrap();
    assert_eq!(
        registry.authenticate(&first.key).unwrap().as_deref(),
        Some("acme")
    );
    assert_eq!(
        registry.authenticate(&other.key).unwrap().as_deref(),
        Some("globex")
    );

    let active = |key: &str| registry.key_is_active(key_id(key).unwrap()).unwrap();
    assert!(active(&first.key));
    let second = registry.rotate_key("acme").unwrap();
    assert_eq!(registry.authenticate(&first.key).unwrap(), None);
    assert!(!active(&first.key) && active(&second.key));
    assert_eq!(
        registry.authenticate(&second.key).unwrap().as_deref(),
        Some("acme")
    );

    registry.revoke("acme").unwrap();
    assert_eq!(registry.authenticate(&second.key).unwrap(), None);
    assert!(!active(&second.key) && active(&other.key));
    assert!(
        registry.rotate_key("acme").is_err(),
        "a revoked tenant gets no key"
    );
    assert!(registry.add("acme").is_err(), "names are never reused");
    let listed = registry.list().unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed[0].revoked_at.is_some() && listed[0].active_keys == 0);
    assert_eq!(listed[1].active_keys, 1);
}

fn forged_and_malformed_keys_act_as_nobody(backend: &Backend) {
    let registry = backend.tenants();
    let key = registry.add("acme").unwrap();
    let (id, secret) = split_key(&key.key).unwrap();
    let mut forged = secret.to_vec();
    forged[0] ^= 1;
    let forged = format!("atom_{id}_{}", String::from_utf8(forged).unwrap());
    for presented in [
        forged.as_str(),
        "",
        "atom_",
        "Bearer x",
        &key.key[..key.key.len() - 1],
    ] {
        assert_eq!(
            registry.authenticate(presented).unwrap(),
            None,
            "{presented}"
        );
    }
    assert!(registry.has_active_keys().unwrap());
}

fn names_are_checked(backend: &Backend) {
    let registry = backend.tenants();
    for bad in ["", ".hidden", "a/b", "a b", &"x".repeat(65)] {
        assert!(registry.add(bad).is_err(), "{bad}");
    }
}

fn unknown_tenants_are_refused(backend: &Backend) {
    let registry = backend.tenants();
    assert!(!registry.has_active_keys().unwrap());
    assert!(!registry.is_active("acme").unwrap());
    assert!(registry.rotate_key("acme").is_err());
    assert!(registry.revoke("acme").is_err());
    registry.add("acme").unwrap();
    assert!(registry.is_active("acme").unwrap());
    assert!(registry.has_active_keys().unwrap());
    assert!(!registry.key_is_active("0123456789abcdef").unwrap());
    registry.revoke("acme").unwrap();
    assert!(!registry.is_active("acme").unwrap());
    assert!(!registry.has_active_keys().unwrap());
    registry.revoke("acme").expect("revoking twice is fine");
}
