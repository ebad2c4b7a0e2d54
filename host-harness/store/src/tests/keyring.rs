use super::key_entry;
use crate::Keyring;

#[test]
fn first_entry_is_current_and_whitespace_is_tolerated() {
    let text = format!(" {} ,\n{}\n", key_entry(2, 2), key_entry(1, 1));
    let keyring = Keyring::from_env_value(&text).expect("valid keyring");
    assert_eq!(keyring.current_version(), 2);
    assert_eq!(keyring.versions(), vec![1, 2]);
}

#[test]
fn text_form_round_trips_with_current_first() {
    let keyring = Keyring::from_env_value(&format!("{},{}", key_entry(1, 1), key_entry(3, 3)))
        .expect("valid keyring");
    let text = keyring.to_env_value();
    assert!(text.starts_with("1:"), "current key first");
    let again = Keyring::from_env_value(&text).expect("own text form parses");
    assert_eq!(again.current_version(), 1);
    assert_eq!(*again.to_env_value(), *text);
}

#[test]
fn malformed_text_is_refused_without_echoing_it() {
    let key = key_entry(1, 9);
    let key_text = key.trim_start_matches("1:");
    let short = format!("1:{}", &key_text[..20]);
    let cases = [
        String::new(),
        " , ".to_owned(),
        key_text.to_owned(),
        format!("0:{key_text}"),
        format!("v1:{key_text}"),
        format!("4294967296:{key_text}"),
        short,
        "1:not base64 at all!".to_owned(),
        format!("{key},{key}"),
    ];
    for case in cases {
        let Err(error) = Keyring::from_env_value(&case) else {
            panic!("accepted {case:?}");
        };
        let message = error.to_string();
        assert!(message.contains("credential keys"), "{message}");
        assert!(!message.contains(&key_text[..20]), "echoed key: {message}");
        assert!(!message.contains("not base64"), "echoed input: {message}");
    }
}

#[test]
fn generated_keys_are_random() {
    let first = Keyring::generate().expect("random key");
    let second = Keyring::generate().expect("random key");
    assert_eq!(first.current_version(), 1);
    assert_ne!(*first.to_env_value(), *second.to_env_value());
}

#[test]
fn a_new_current_key_keeps_the_old_ones() {
    let keyring = Keyring::from_env_value(&format!("{},{}", key_entry(2, 2), key_entry(5, 5)))
        .expect("valid keyring");
    let rotated = keyring.with_new_current_key().expect("random key");
    assert_eq!(rotated.current_version(), 6);
    assert_eq!(rotated.versions(), vec![2, 5, 6]);
    let trimmed = rotated.only_current();
    assert_eq!(trimmed.current_version(), 6);
    assert_eq!(trimmed.versions(), vec![6]);
    assert_eq!(keyring.versions(), vec![2, 5], "the original is unchanged");
}

#[test]
fn debug_shows_versions_not_keys() {
    let keyring = Keyring::generate()
        .and_then(|k| k.with_new_current_key())
        .expect("random keys");
    let shown = format!("{keyring:?}");
    assert!(shown.contains("current: 2"), "{shown}");
    for entry in keyring.to_env_value().split(',') {
        let (_, key) = entry.split_once(':').expect("entry");
        assert!(!shown.contains(key), "{shown}");
        assert!(!shown.contains(&key[..8]), "{shown}");
    }
}

#[test]
fn key_file_round_trips_and_is_private() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("keys");
    let keyring = Keyring::generate()
        .and_then(|k| k.with_new_current_key())
        .expect("random keys");
    keyring.save_file(&path).expect("saved");
    let loaded = Keyring::load_file(&path).expect("loaded");
    assert_eq!(*loaded.to_env_value(), *keyring.to_env_value());
    assert_eq!(loaded.current_version(), 2);

    // Saving again replaces the file rather than failing or appending.
    let rotated = keyring.with_new_current_key().expect("random key");
    rotated.save_file(&path).expect("saved again");
    let loaded = Keyring::load_file(&path).expect("loaded again");
    assert_eq!(loaded.versions(), vec![1, 2, 3]);
    let leftovers = std::fs::read_dir(dir.path()).expect("listable").count();
    assert_eq!(leftovers, 1, "no temporary files left behind");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[cfg(unix)]
#[test]
fn key_file_others_can_read_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("keys");
    std::fs::write(&path, format!("# a comment\n{}\n", key_entry(1, 1))).expect("written");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let error = Keyring::load_file(&path).expect_err("world-readable keys");
    assert!(error.to_string().contains("chmod 600"), "{error}");

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let keyring = Keyring::load_file(&path).expect("comments are skipped");
    assert_eq!(keyring.versions(), vec![1]);
}
