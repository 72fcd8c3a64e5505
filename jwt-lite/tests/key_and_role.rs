//! `Key` never shows its secret; `Role` names and parsing.

use jwt_lite::{Key, Role, UnknownRole};

#[test]
fn key_debug_is_redacted() {
    let secret = "s3cr3t-VALUE-that-must-not-leak-0123456789";
    let owned_string: String = secret.into();
    let owned_bytes: Vec<u8> = secret.into();
    for key in [
        Key::new(secret),
        Key::new(owned_string),
        Key::new(owned_bytes),
        Key::from_bytes(secret.as_bytes()),
    ] {
        let shown = format!("{key:?}");
        assert_eq!(shown, format!("Key(<redacted, {} bytes>)", secret.len()));
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(!format!("{key:#?}").contains("s3cr3t"));
        // Nor as a list of byte values.
        assert!(!shown.contains(&secret.as_bytes()[0].to_string()));
    }
}

#[test]
fn role_names() {
    assert_eq!(Role::Committee.as_str(), "committee");
    assert_eq!(Role::Admin.as_str(), "admin");
    assert_eq!(Role::Admin.to_string(), "admin");
    assert_eq!(
        serde_json::to_string(&Role::Committee).unwrap(),
        "\"committee\""
    );
    assert_eq!(
        serde_json::from_str::<Role>("\"admin\"").unwrap(),
        Role::Admin
    );
    assert!(serde_json::from_str::<Role>("\"Admin\"").is_err());
}

#[test]
fn role_from_str_is_exact() {
    assert_eq!("committee".parse(), Ok(Role::Committee));
    assert_eq!("admin".parse(), Ok(Role::Admin));
    for bad in [
        "Admin",
        "Committee",
        "ADMIN",
        "root",
        "",
        " admin",
        "admin\n",
        "committe",
    ] {
        assert_eq!(bad.parse::<Role>(), Err(UnknownRole), "{bad:?}");
    }
    assert_eq!(
        UnknownRole.to_string(),
        "role must be `committee` or `admin`"
    );
}
