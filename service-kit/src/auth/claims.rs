//! What a TixGo token says (SPEC §6): who holds it, with which role, from when until when.
//!
//! jwt-lite signs and verifies any claims and checks only `exp`; the rest of the contract is here,
//! in the type tokens are read into: a non-empty `sub`, a `role` of exactly `committee` or
//! `admin`, and integer `iat` and `exp`. Anything else makes `jwt_lite::decode` fail with
//! `InvalidClaims`, which the services answer `Invalid token`.

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use std::str::FromStr;

/// What the holder of a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// An event committee member (`committee`).
    Committee,
    /// An administrator (`admin`).
    Admin,
}

impl Role {
    /// The role's name as it appears in tokens, bodies and the journal: `committee` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Committee => "committee",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = UnknownRole;

    /// Parses exactly `committee` or `admin` (lowercase, no whitespace).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "committee" => Ok(Self::Committee),
            "admin" => Ok(Self::Admin),
            _ => Err(UnknownRole),
        }
    }
}

/// The error from parsing a [`Role`]: the text was not `committee` or `admin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownRole;

impl fmt::Display for UnknownRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("role must be `committee` or `admin`")
    }
}

impl std::error::Error for UnknownRole {}

/// The claims of a TixGo token. Times are seconds since the Unix epoch.
///
/// Serialized with its members in the order `sub`, `role`, `iat`, `exp`. Read from a token, every
/// member is required; other members are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Subject: the user name the token was issued to. Never empty in a valid token.
    #[serde(deserialize_with = "non_empty")]
    pub sub: String,
    /// The user's role.
    pub role: Role,
    /// Issued at. Required to be an integer; not compared with the time.
    pub iat: u64,
    /// Expiry: the token is valid strictly before this time (jwt-lite checks it).
    pub exp: u64,
}

impl Claims {
    /// Claims for `sub` with `role`, issued at `now` and expiring `lifetime_secs` later
    /// (saturating at `u64::MAX`).
    pub fn new(sub: impl Into<String>, role: Role, now: u64, lifetime_secs: u64) -> Self {
        Self {
            sub: sub.into(),
            role,
            iat: now,
            exp: now.saturating_add(lifetime_secs),
        }
    }
}

/// A string that is not empty: a token for nobody is refused.
fn non_empty<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let text = String::deserialize(deserializer)?;
    if text.is_empty() {
        return Err(serde::de::Error::invalid_length(0, &"a non-empty string"));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jwt_lite::{Error, Key, Validation};
    use serde::ser::Serializer;
    use serde_json::{json, Value};

    const NOW: u64 = 1_700_000_000;

    fn key() -> Key {
        Key::new(b"0123456789abcdef0123456789abcdef")
    }

    /// A JSON object written member by member, so a test can repeat one.
    struct Members<'a>(&'a [(&'a str, Value)]);

    impl Serialize for Members<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
        }
    }

    fn good_members() -> Vec<(&'static str, Value)> {
        vec![
            ("sub", json!("panitia1")),
            ("role", json!("committee")),
            ("iat", json!(NOW)),
            ("exp", json!(NOW + 7200)),
        ]
    }

    /// Signs `members` (with jwt-lite, which checks nothing on the way out) and reads the token as
    /// TixGo's claims at `NOW`.
    fn read(members: &[(&str, Value)]) -> Result<Claims, Error> {
        let token = jwt_lite::encode(&Members(members), &key()).unwrap();
        jwt_lite::decode(&token, &key(), &Validation::at(NOW))
    }

    fn with(name: &str, value: Value) -> Result<Claims, Error> {
        let mut members = good_members();
        members.iter_mut().find(|(k, _)| *k == name).unwrap().1 = value;
        read(&members)
    }

    fn without(name: &str) -> Result<Claims, Error> {
        let mut members = good_members();
        members.retain(|(k, _)| *k != name);
        read(&members)
    }

    #[test]
    fn role_names() {
        assert_eq!(Role::Committee.as_str(), "committee");
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

    #[test]
    fn the_payload_is_byte_for_byte_what_tokens_always_carried() {
        let claims = Claims::new("panitia1", Role::Committee, NOW, 7200);
        assert_eq!(
            serde_json::to_string(&claims).unwrap(),
            r#"{"sub":"panitia1","role":"committee","iat":1700000000,"exp":1700007200}"#
        );
        let awkward = Claims::new("a \"q\"\n\u{1F600} \\ \u{0}", Role::Admin, 5, 10);
        let token = jwt_lite::encode(&awkward, &key()).unwrap();
        assert_eq!(
            jwt_lite::decode(&token, &key(), &Validation::at(5)),
            Ok(awkward)
        );
        assert_eq!(
            Claims::new("x", Role::Admin, u64::MAX - 1, 10).exp,
            u64::MAX
        );
    }

    #[test]
    fn good_claims_are_read() {
        assert_eq!(
            read(&good_members()),
            Ok(Claims::new("panitia1", Role::Committee, NOW, 7200))
        );
        assert_eq!(
            with("role", json!("admin")).map(|c| c.role),
            Ok(Role::Admin)
        );
        let mut extra = good_members();
        extra.push(("iss", json!("elsewhere")));
        assert!(read(&extra).is_ok(), "other members are ignored");
    }

    #[test]
    fn every_member_is_required() {
        for name in ["sub", "role", "iat"] {
            assert_eq!(
                without(name),
                Err(Error::InvalidClaims(format!("missing field `{name}`"))),
                "{name}"
            );
        }
        // `exp` is the one jwt-lite requires itself.
        assert_eq!(without("exp"), Err(Error::MissingClaim("exp")));
    }

    #[test]
    fn sub_is_a_non_empty_string() {
        assert_eq!(
            with("sub", json!("")),
            Err(Error::InvalidClaims(
                "invalid length 0, expected a non-empty string".into()
            ))
        );
        for sub in [json!(42), json!(null), json!(["a"])] {
            assert!(
                matches!(with("sub", sub.clone()), Err(Error::InvalidClaims(_))),
                "{sub}"
            );
        }
    }

    #[test]
    fn role_is_exactly_committee_or_admin() {
        for role in [
            json!("root"),
            json!("Admin"),
            json!("COMMITTEE"),
            json!("Committee"),
            json!(" admin"),
            json!(""),
            json!(1),
            json!(null),
        ] {
            assert!(
                matches!(with("role", role.clone()), Err(Error::InvalidClaims(_))),
                "{role}"
            );
        }
    }

    #[test]
    fn iat_and_exp_are_integers() {
        for iat in [json!(NOW.to_string()), json!(0.5), json!(-5), json!(null)] {
            assert!(
                matches!(with("iat", iat.clone()), Err(Error::InvalidClaims(_))),
                "{iat}"
            );
        }
        for exp in [json!((NOW + 60).to_string()), json!(1.5e9), json!(-1)] {
            assert_eq!(with("exp", exp), Err(Error::InvalidClaim("exp")));
        }
        assert_eq!(with("exp", json!(NOW)), Err(Error::Expired));
    }

    #[test]
    fn a_member_twice_is_refused() {
        for (name, second) in [
            ("sub", json!("admin1")),
            ("role", json!("admin")),
            ("exp", json!(u64::MAX)),
        ] {
            let mut members = good_members();
            members.push((name, second));
            assert_eq!(
                read(&members),
                Err(Error::Malformed(jwt_lite::Malformed::DuplicatePayloadKey)),
                "{name}"
            );
        }
    }
}
