//! The service's OpenAPI 3 document, served at `GET /openapi.json`.
//!
//! It is written by hand in `openapi.json` next to this file and compiled in. The unit tests of
//! [`crate::routes`] check that it documents every route and method, and the black-box tests check
//! real responses against it.

use service_kit::Response;

/// The document's text.
pub const DOCUMENT: &str = include_str!("openapi.json");

/// `200` with the document.
pub fn document() -> Response {
    Response::with_body(200, "application/json", DOCUMENT.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::{
        check_password, check_username, MAX_PASSWORD_BYTES, MAX_USERNAME_CHARS, MIN_PASSWORD_CHARS,
        MIN_USERNAME_CHARS,
    };
    use crate::storage::UserInfo;
    use serde_json::Value;
    use service_kit::Role;

    #[test]
    fn is_openapi_3_json_with_the_crate_version() {
        let doc: Value = serde_json::from_str(DOCUMENT).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.0"));
        assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    }

    fn document_value() -> Value {
        serde_json::from_str(DOCUMENT).unwrap()
    }

    use testkit::openapi::pattern;

    /// Every Unicode scalar value in the Basic Multilingual Plane (where every control and white
    /// space character is) and a sample of the planes above it.
    fn chars() -> impl Iterator<Item = char> {
        (0..=0xFFFF_u32)
            .chain((0x1_0000..=0x10_FFFF).step_by(251))
            .filter_map(char::from_u32)
    }

    #[test]
    fn the_username_schema_is_the_username_rule() {
        let doc = document_value();
        let schema = &doc["components"]["schemas"]["Username"];
        assert_eq!(schema["minLength"], MIN_USERNAME_CHARS);
        assert_eq!(schema["maxLength"], MAX_USERNAME_CHARS);
        assert_eq!(
            doc["components"]["schemas"]["RegisterRequest"]["properties"]["username"]["$ref"],
            "#/components/schemas/Username"
        );
        let re = pattern(&doc, "/components/schemas/Username/pattern");
        assert!(re.is_match("panitia1") && re.is_match("pan itia") && re.is_match("Ayu Léstari"));
        for refused in [
            "pan\u{0}itia",
            "ab\tc",
            "ab\nc",
            "a\u{7f}b",
            "a\u{85}b",
            " abc",
            "abc\u{3000}",
        ] {
            assert!(!re.is_match(refused), "{refused:?}");
        }
        // Every character at the start, inside and at the end of a name of a valid length: what
        // the service accepts, the pattern matches; for ASCII the two agree exactly. The rules a
        // regular expression cannot say (NFKC form, invisible characters, marks on letters) are
        // in the description and make the service stricter than the pattern.
        for c in chars() {
            for name in [format!("{c}ab"), format!("a{c}b"), format!("ab{c}")] {
                let (matched, accepted) = (re.is_match(&name), check_username(&name).is_ok());
                assert!(matched || !accepted, "{name:?} (U+{:04X})", c as u32);
                if c.is_ascii() {
                    assert_eq!(matched, accepted, "{name:?} (U+{:04X})", c as u32);
                }
            }
        }
    }

    #[test]
    fn the_role_pattern_is_what_registration_reads() {
        let doc = document_value();
        let role = &doc["components"]["schemas"]["RegisterRequest"]["properties"]["role"];
        assert_eq!(role["type"], "string");
        assert_eq!(role["default"], "committee");
        assert!(role.get("nullable").is_none(), "a null role is refused");
        let re = pattern(
            &doc,
            "/components/schemas/RegisterRequest/properties/role/pattern",
        );
        // As `RegisterForm::parse` reads a role.
        let accepted = |text: &str| text.trim().to_lowercase().parse::<Role>().is_ok();
        for text in [
            "committee",
            "admin",
            " Admin ",
            "COMMITTEE",
            "\tadmin\n",
            "\u{3000}aDmIn",
        ] {
            assert!(re.is_match(text) && accepted(text), "{text:?}");
        }
        for text in [
            "",
            "root",
            "admın",
            "ADMİN",
            "committee\u{0}",
            "ad min",
            "\u{feff}admin",
        ] {
            assert!(!re.is_match(text) && !accepted(text), "{text:?}");
        }
        // A PATCH reads a role as registration does; there `null` means unchanged.
        let change = &doc["components"]["schemas"]["ChangeUserRequest"]["properties"]["role"];
        assert_eq!(change["pattern"], role["pattern"]);
        assert_eq!(change["nullable"], true);
        for c in chars() {
            for text in [
                format!("{c}admin"),
                format!("admin{c}"),
                format!("{c}dmin"),
                format!("committe{c}"),
            ] {
                assert_eq!(re.is_match(&text), accepted(&text), "{text:?}");
            }
        }
    }

    #[test]
    fn the_password_schema_bounds_what_the_byte_rule_allows() {
        // JSON Schema counts characters; the 72-byte rule is in the description.
        let doc = document_value();
        let schemas = &doc["components"]["schemas"];
        // Every new password, at registration and after, is one schema.
        for (schema, field) in [
            ("RegisterRequest", "password"),
            ("SetPasswordRequest", "password"),
            ("ChangePasswordRequest", "new_password"),
        ] {
            assert_eq!(
                schemas[schema]["properties"][field]["$ref"], "#/components/schemas/Password",
                "{schema}.{field}"
            );
        }
        let password = &schemas["Password"];
        assert_eq!(password["minLength"], MIN_PASSWORD_CHARS);
        assert_eq!(password["maxLength"], MAX_PASSWORD_BYTES);
        assert!(password["description"]
            .as_str()
            .unwrap()
            .contains("72 bytes of UTF-8"));
        assert!(check_password(&"x".repeat(MAX_PASSWORD_BYTES)).is_ok());
        assert!(check_password(&"x".repeat(MAX_PASSWORD_BYTES + 1)).is_err());
    }

    #[test]
    fn the_user_schema_lists_what_a_user_answer_holds() {
        let doc = document_value();
        let schema = &doc["components"]["schemas"]["User"];
        let user = UserInfo {
            username: "gate1".to_owned(),
            role: Role::Committee,
            disabled: false,
            created_at: "2026-12-02T18:00:00.000000+00:00".to_owned(),
            last_login_at: None,
        };
        let answer = serde_json::to_value(&user).unwrap();
        let mut keys: Vec<&str> = answer
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        let mut required: Vec<&str> = schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap())
            .collect();
        keys.sort_unstable();
        required.sort_unstable();
        assert_eq!(keys, required, "every key is always there, null or not");
        let mut documented: Vec<&str> = schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        documented.sort_unstable();
        assert_eq!(documented, required);
        assert_eq!(schema["properties"]["last_login_at"]["nullable"], true);
        assert!(schema["properties"]["created_at"].get("nullable").is_none());
    }

    #[test]
    fn every_answer_declares_the_request_id_and_every_401_the_challenge() {
        let doc = document_value();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                for (status, answer) in operation["responses"].as_object().unwrap() {
                    let answer = resolve(&doc, answer);
                    let headers = &answer["headers"];
                    assert!(
                        headers["X-Request-Id"].is_object(),
                        "{method} {path} {status}: no X-Request-Id"
                    );
                    let expected: &[&str] = match status.as_str() {
                        "401" => &["WWW-Authenticate"],
                        "429" | "503" => &["Retry-After"],
                        "204" => &["Allow"],
                        _ => &[],
                    };
                    for name in expected {
                        assert!(
                            headers[name].is_object(),
                            "{method} {path} {status}: no {name}"
                        );
                    }
                }
                for status in ["400", "413", "503"] {
                    assert!(
                        operation["responses"][status].is_object(),
                        "{method} {path}: {status} can always happen"
                    );
                }
            }
        }
    }

    fn resolve<'a>(doc: &'a Value, mut value: &'a Value) -> &'a Value {
        while let Some(target) = value["$ref"].as_str() {
            value = doc.pointer(target.trim_start_matches('#')).unwrap();
        }
        value
    }
}
