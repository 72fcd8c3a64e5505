//! The attendance service's configuration: the common variables of SPEC §2
//! ([`service_kit::startup::COMMON_VARIABLES`]), and `GATE_IDENTITY_URL`, where the gate page
//! sends its logins. `--help` lists them all.

use service_kit::startup::Variable;
use service_kit::{CommonConfig, ConfigError, Env};
use std::fmt;

/// The port attendance listens on when `PORT` is not set.
pub const DEFAULT_PORT: u16 = 18082;

/// The variables attendance reads besides the common ones.
pub const OWN_VARIABLES: &[Variable] = &[Variable {
    name: GATE_IDENTITY_URL,
    default: "unset",
    rule: IDENTITY_URL_RULE,
}];

const GATE_IDENTITY_URL: &str = "GATE_IDENTITY_URL";

const IDENTITY_URL_RULE: &str = "the identity origin the gate page logs in at, as \
     http(s)://host[:port] (no path); unset: the page's own origin, where the edge routes /auth/ \
     to identity (identity's CORS_ORIGINS must then list the page's origin)";

/// Everything attendance reads from the environment.
#[derive(Debug)]
pub struct Settings {
    /// What both services share (secret, token lifetime, address, data directory, workers, CORS).
    pub common: CommonConfig,
    /// Where the gate page sends logins (`GATE_IDENTITY_URL`); `None`: the page's own origin.
    pub gate_identity: Option<IdentityUrl>,
}

impl Settings {
    /// Reads and checks every variable; the first bad one is the error.
    pub fn from_env(env: &Env) -> Result<Settings, ConfigError> {
        let common =
            CommonConfig::from_env(env, "attendance", DEFAULT_PORT, cfg!(feature = "postgres"))?;
        let gate_identity = match env.get(GATE_IDENTITY_URL) {
            None | Some("") => None,
            Some(text) => Some(
                IdentityUrl::parse(text).ok_or_else(|| ConfigError::Invalid {
                    var: GATE_IDENTITY_URL,
                    rule: IDENTITY_URL_RULE.to_owned(),
                })?,
            ),
        };
        Ok(Settings {
            common,
            gate_identity,
        })
    }
}

/// An origin for the gate page's logins: `http` or `https`, a host (a name, an IPv4 address or
/// a bracketed IPv6 one) and an optional port, nothing else. It goes into the page's HTML and
/// its Content-Security-Policy as is, so it holds no character either would need escaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityUrl(String);

impl IdentityUrl {
    /// The origin in `text` (a trailing `/` is dropped), or `None` when it is anything else.
    pub fn parse(text: &str) -> Option<IdentityUrl> {
        let origin = text.strip_suffix('/').unwrap_or(text);
        let rest = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))?;
        let port = match rest.strip_prefix('[') {
            Some(v6) => {
                let (address, after) = v6.split_once(']')?;
                address.parse::<std::net::Ipv6Addr>().ok()?;
                match after {
                    "" => None,
                    after => Some(after.strip_prefix(':')?),
                }
            }
            None => {
                let (host, port) = match rest.split_once(':') {
                    Some((host, port)) => (host, Some(port)),
                    None => (rest, None),
                };
                let label_ok = |label: &str| {
                    (1..=63).contains(&label.len())
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                };
                if !host.split('.').all(label_ok) {
                    return None;
                }
                port
            }
        };
        let port_ok = port.is_none_or(|p| {
            p.len() <= 5
                && p.bytes().all(|b| b.is_ascii_digit())
                && p.parse::<u16>().is_ok_and(|n| n > 0)
        });
        (port_ok && origin.len() <= 255).then(|| IdentityUrl(origin.to_owned()))
    }

    /// The origin, as given without a trailing `/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdentityUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_lists_exactly_the_variables_read() {
        let env = Env::from_pairs([("JWT_SECRET", "0123456789abcdef0123456789abcdef")]);
        Settings::from_env(&env).unwrap();
        let mut listed: Vec<&str> = service_kit::startup::variables::<crate::routes::Attendance>()
            .map(|v| v.name)
            .collect();
        listed.sort_unstable();
        assert_eq!(env.names_read(), listed);
    }

    #[test]
    fn a_database_url_is_kept_only_by_a_build_with_postgres() {
        let url = "postgres://tixgo:db-pass@db/tixgo";
        let env = Env::from_pairs([
            ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("DATABASE_URL", url),
        ]);
        let read = Settings::from_env(&env);
        if cfg!(feature = "postgres") {
            let settings = read.unwrap();
            let kept = settings.common.database_url.unwrap();
            assert_eq!(kept.expose(), url);
        } else {
            let text = read.unwrap_err().to_string();
            assert!(
                text.starts_with("DATABASE_URL is set, but this build has no PostgreSQL"),
                "{text}"
            );
            assert!(!text.contains("db-pass"), "{text}");
        }
    }

    #[test]
    fn gate_identity_url_takes_an_origin_only() {
        for good in [
            "http://127.0.0.1:18081",
            "http://127.0.0.1:18081/",
            "https://identity.example.com",
            "http://[::1]:18081",
            "http://localhost",
        ] {
            let url = IdentityUrl::parse(good).unwrap_or_else(|| panic!("{good}"));
            assert_eq!(url.as_str(), good.trim_end_matches('/'));
        }
        for bad in [
            "",
            "127.0.0.1:18081",
            "ftp://host",
            "http://",
            "http://host:0",
            "http://host:99999",
            "http://host/path",
            "http://user@host",
            "http://host?x=1",
            "http://ho\"st",
            "http://host;script-src *",
            "http://[::1",
            "http://[zz]:1",
            "http://a..b",
        ] {
            assert_eq!(IdentityUrl::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_bad_gate_identity_url_names_the_variable() {
        let env = Env::from_pairs([
            ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("GATE_IDENTITY_URL", "javascript:alert(1)"),
        ]);
        let err = Settings::from_env(&env).unwrap_err();
        assert!(
            err.to_string().starts_with("GATE_IDENTITY_URL is invalid"),
            "{err}"
        );
        let env = Env::from_pairs([
            ("JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("GATE_IDENTITY_URL", "http://127.0.0.1:18081"),
        ]);
        let settings = Settings::from_env(&env).unwrap();
        assert_eq!(
            settings.gate_identity.map(|u| u.to_string()).as_deref(),
            Some("http://127.0.0.1:18081")
        );
    }
}
