//! Configuration from the environment (SPEC §2), checked at start.
//!
//! A bad value stops the start with one line that names the variable and its rule, and the exit
//! code 2 ([`crate::startup::EXIT_CONFIG`]). No value is ever echoed, so a secret in the wrong
//! variable cannot leak into a log.

use crate::rate_limit::RateLimit;
use jwt_lite::Key;
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::PathBuf;

/// The shortest `JWT_SECRET` accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;

/// A variable that is missing or breaks its rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// A required variable is not set (or is empty).
    Missing {
        /// The variable.
        var: &'static str,
        /// What it must hold.
        rule: &'static str,
    },
    /// A variable is set to a value that breaks its rule.
    Invalid {
        /// The variable.
        var: &'static str,
        /// What it must hold.
        rule: String,
    },
    /// A variable is set that this build cannot honour, and ignoring it would mislead (a
    /// `DATABASE_URL` given to a build without PostgreSQL).
    Unsupported {
        /// The variable.
        var: &'static str,
        /// Why it cannot be honoured, and what to do instead.
        why: &'static str,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Missing { var, rule } => write!(f, "{var} is not set: {rule}"),
            ConfigError::Invalid { var, rule } => write!(f, "{var} is invalid: {rule}"),
            ConfigError::Unsupported { var, why } => write!(f, "{var} is set, but {why}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Why a build without PostgreSQL refuses `DATABASE_URL` (SPEC §11): started with it, it would
/// otherwise keep its own data in the journal while the operator believes it shares the
/// database with the other instances.
const NO_DATABASE: &str = "this build has no PostgreSQL support and keeps its data in the \
    journal under DATA_DIR; unset DATABASE_URL, or run a build with the cargo feature `postgres`";

/// A snapshot of the environment to read variables from.
///
/// It remembers which variables were asked for, so a test can check that `--help` lists every
/// variable a binary reads ([`Env::names_read`]).
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
    read: RefCell<BTreeSet<String>>,
}

impl Env {
    /// The process environment (variables whose name or value is not UTF-8 are ignored).
    pub fn from_process() -> Env {
        Env {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
            read: RefCell::default(),
        }
    }

    /// An environment made of these pairs (for tests).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Env {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            read: RefCell::default(),
        }
    }

    /// Every variable asked for so far, set or not, in name order.
    pub fn names_read(&self) -> Vec<String> {
        self.read.borrow().iter().cloned().collect()
    }

    /// `DATA_DIR`, or `./data/<service>` when it is not set. Commands that work on the data
    /// directory alone (`identity user ...`) read it without the rest of [`CommonConfig`].
    pub fn data_dir(&self, service: &str) -> PathBuf {
        self.get("DATA_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("./data").join(service))
    }

    /// The value of `var`; an empty value counts as unset.
    pub fn get(&self, var: &str) -> Option<&str> {
        self.read.borrow_mut().insert(var.to_owned());
        self.vars
            .get(var)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// An integer in `range`, or `default` when unset.
    pub fn int_in<T>(
        &self,
        var: &'static str,
        default: T,
        range: RangeInclusive<T>,
    ) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
    {
        let Some(raw) = self.get(var) else {
            return Ok(default);
        };
        match raw.trim().parse::<T>() {
            Ok(v) if range.contains(&v) => Ok(v),
            _ => Err(ConfigError::Invalid {
                var,
                rule: format!("must be an integer in {}..={}", range.start(), range.end()),
            }),
        }
    }

    /// `true` or `false` (compared case-insensitively, surrounding whitespace ignored), or
    /// `default` when unset. Nothing else is a flag: `1`, `yes` or `on` are refused rather than
    /// guessed at, so there is one documented spelling.
    pub fn flag(&self, var: &'static str, default: bool) -> Result<bool, ConfigError> {
        let Some(raw) = self.get(var) else {
            return Ok(default);
        };
        match raw.trim() {
            v if v.eq_ignore_ascii_case("true") => Ok(true),
            v if v.eq_ignore_ascii_case("false") => Ok(false),
            _ => Err(ConfigError::Invalid {
                var,
                rule: "must be true or false".to_owned(),
            }),
        }
    }

    /// One of `choices` (compared case-insensitively), or the first choice when unset.
    pub fn choice(
        &self,
        var: &'static str,
        choices: &[&'static str],
    ) -> Result<&'static str, ConfigError> {
        let Some(raw) = self.get(var) else {
            return Ok(choices[0]);
        };
        choices
            .iter()
            .find(|c| c.eq_ignore_ascii_case(raw.trim()))
            .copied()
            .ok_or_else(|| ConfigError::Invalid {
                var,
                rule: format!("must be one of: {}", choices.join(", ")),
            })
    }
}

/// What both services read from the environment.
#[derive(Debug)]
pub struct CommonConfig {
    /// The HS256 signing key (`JWT_SECRET`).
    pub jwt_key: Key,
    /// Token lifetime in seconds (`TOKEN_EXPIRE_MINUTES` × 60).
    pub token_lifetime_secs: u64,
    /// Where to listen (`BIND_ADDR`, `PORT`); port 0 picks a free one.
    pub bind: SocketAddr,
    /// The data directory (`DATA_DIR`).
    pub data_dir: PathBuf,
    /// Request-handling threads (`WORKERS`).
    pub workers: usize,
    /// Origins allowed by CORS (`CORS_ORIGINS`); empty means no CORS headers.
    pub cors_origins: Vec<String>,
    /// Writes a second per user (`WRITE_LIMIT_PER_USER`), bursts of ten times that; 0: off.
    pub write_limit_per_user: u32,
    /// The database to keep the data in instead of the journal (`DATABASE_URL`), in a build
    /// with the `postgres` feature; always `None` in one without.
    pub database_url: Option<DatabaseUrl>,
}

/// A `DATABASE_URL`: it holds a password, so it is never printed, not even by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The URL itself, for the database driver only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DatabaseUrl(<redacted>)")
    }
}

impl CommonConfig {
    /// Reads the common variables for `service` (its data directory name) with its default port.
    /// `postgres` says whether the service was built with the `postgres` feature: without it, a
    /// `DATABASE_URL` is refused (SPEC §11), before anything else is read.
    pub fn from_env(
        env: &Env,
        service: &str,
        default_port: u16,
        postgres: bool,
    ) -> Result<CommonConfig, ConfigError> {
        let database_url = match env.get("DATABASE_URL") {
            None => None,
            Some(_) if !postgres => {
                return Err(ConfigError::Unsupported {
                    var: "DATABASE_URL",
                    why: NO_DATABASE,
                })
            }
            Some(url) => Some(DatabaseUrl(url.trim().to_owned())),
        };
        let secret = env.get("JWT_SECRET").ok_or(ConfigError::Missing {
            var: "JWT_SECRET",
            rule: "set it to a random secret of at least 32 bytes (openssl rand -hex 32)",
        })?;
        if secret.len() < MIN_SECRET_BYTES {
            return Err(ConfigError::Invalid {
                var: "JWT_SECRET",
                rule: format!(
                    "must be at least {MIN_SECRET_BYTES} bytes, got {} (openssl rand -hex 32)",
                    secret.len()
                ),
            });
        }
        if let Some(alg) = env.get("JWT_ALG") {
            if alg != "HS256" {
                return Err(ConfigError::Invalid {
                    var: "JWT_ALG",
                    rule: "only HS256 is supported".to_owned(),
                });
            }
        }
        let minutes = env.int_in("TOKEN_EXPIRE_MINUTES", 120u64, 1..=10_080)?;
        let port = env.int_in("PORT", default_port, 0..=u16::MAX)?;
        let ip = match env.get("BIND_ADDR") {
            None => IpAddr::from([0, 0, 0, 0]),
            Some(raw) => raw.trim().parse().map_err(|_| ConfigError::Invalid {
                var: "BIND_ADDR",
                rule: "must be an IPv4 or IPv6 address, such as 0.0.0.0 or ::".to_owned(),
            })?,
        };
        let data_dir = env.data_dir(service);
        let workers = env.int_in("WORKERS", default_workers(), 1..=1024)?;
        let write_limit_per_user = env.int_in("WRITE_LIMIT_PER_USER", 50u32, 0..=100_000)?;
        Ok(CommonConfig {
            jwt_key: Key::new(secret.as_bytes()),
            token_lifetime_secs: minutes * 60,
            bind: SocketAddr::new(ip, port),
            data_dir,
            workers,
            cors_origins: cors_origins(env)?,
            write_limit_per_user,
            database_url,
        })
    }

    /// The per-user write limit these settings ask for.
    pub fn write_limit(&self) -> RateLimit {
        RateLimit::writes_per_user(self.write_limit_per_user)
    }
}

/// Four request threads per core (at least 8, at most 64): a handler waiting for an undo's sync
/// holds its worker (a check-in does not: the journal's sync thread answers it), and each
/// worker may hold a listing of up to a MiB or so while it writes it, so more workers cost
/// memory. A service may choose its own default (identity does, for its bcrypt turns).
pub fn default_workers() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    (cores * 4).clamp(8, 64)
}

fn cors_origins(env: &Env) -> Result<Vec<String>, ConfigError> {
    let Some(raw) = env.get("CORS_ORIGINS") else {
        return Ok(Vec::new());
    };
    raw.split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|origin| {
            let rest = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            match rest {
                Some(host) if !host.is_empty() && !host.contains('/') => Ok(origin.to_owned()),
                _ => Err(ConfigError::Invalid {
                    var: "CORS_ORIGINS",
                    rule: "must be comma-separated origins like https://gate.example.com (no path)"
                        .to_owned(),
                }),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn defaults() {
        let c = CommonConfig::from_env(
            &Env::from_pairs([("JWT_SECRET", SECRET)]),
            "identity",
            18081,
            false,
        )
        .unwrap();
        assert_eq!(c.bind, "0.0.0.0:18081".parse().unwrap());
        assert_eq!(c.token_lifetime_secs, 7200);
        assert_eq!(c.data_dir, PathBuf::from("./data/identity"));
        assert!(c.workers >= 8);
        assert!(c.cors_origins.is_empty());
        assert_eq!(c.write_limit_per_user, 50);
        assert!(!c.write_limit().is_off());
        let off = Env::from_pairs([("JWT_SECRET", SECRET), ("WRITE_LIMIT_PER_USER", "0")]);
        let off = CommonConfig::from_env(&off, "identity", 18081, false).unwrap();
        assert!(off.write_limit().is_off());
    }

    #[test]
    fn secret_rules_name_the_variable_and_never_echo_it() {
        let missing = CommonConfig::from_env(&Env::default(), "x", 1, false).unwrap_err();
        assert!(missing.to_string().starts_with("JWT_SECRET is not set"));
        let short =
            CommonConfig::from_env(&Env::from_pairs([("JWT_SECRET", "hunter2")]), "x", 1, false)
                .unwrap_err();
        let text = short.to_string();
        assert!(text.starts_with("JWT_SECRET is invalid"), "{text}");
        assert!(!text.contains("hunter2"));
    }

    #[test]
    fn each_bad_variable_is_named() {
        for (var, value) in [
            ("JWT_ALG", "HS512"),
            ("TOKEN_EXPIRE_MINUTES", "0"),
            ("TOKEN_EXPIRE_MINUTES", "10081"),
            ("PORT", "70000"),
            ("BIND_ADDR", "localhost"),
            ("WORKERS", "0"),
            ("WRITE_LIMIT_PER_USER", "-1"),
            ("WRITE_LIMIT_PER_USER", "lots"),
            ("CORS_ORIGINS", "https://a.example/path"),
        ] {
            let env = Env::from_pairs([("JWT_SECRET", SECRET), (var, value)]);
            let err = CommonConfig::from_env(&env, "x", 1, false).unwrap_err();
            assert!(err.to_string().starts_with(var), "{var}={value}: {err}");
        }
    }

    #[test]
    fn a_database_url_is_refused_by_name_and_never_echoed() {
        let url = "postgres://tixgo:s3cret@db/tixgo";
        let env = Env::from_pairs([("JWT_SECRET", SECRET), ("DATABASE_URL", url)]);
        let err = CommonConfig::from_env(&env, "x", 1, false).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("DATABASE_URL is set, but this build has no PostgreSQL"));
        assert!(text.contains("`postgres`"), "{text}");
        assert!(!text.contains("s3cret"), "{text}");
        let empty = Env::from_pairs([("JWT_SECRET", SECRET), ("DATABASE_URL", "")]);
        assert!(
            CommonConfig::from_env(&empty, "x", 1, false).is_ok(),
            "empty is unset"
        );
        // First, before any other variable: the refusal is what the operator needs to read.
        let only = Env::from_pairs([("DATABASE_URL", url), ("PORT", "nope")]);
        let err = CommonConfig::from_env(&only, "x", 1, false).unwrap_err();
        assert!(err.to_string().starts_with("DATABASE_URL is set"), "{err}");
    }

    #[test]
    fn a_build_with_postgres_keeps_the_database_url_and_never_prints_it() {
        let url = " postgres://tixgo:s3cret@db/tixgo ";
        let env = Env::from_pairs([("JWT_SECRET", SECRET), ("DATABASE_URL", url)]);
        let config = CommonConfig::from_env(&env, "x", 1, true).unwrap();
        let kept = config.database_url.as_ref().expect("kept");
        assert_eq!(kept.expose(), "postgres://tixgo:s3cret@db/tixgo");
        assert!(!format!("{config:?}").contains("s3cret"));
        let unset = Env::from_pairs([("JWT_SECRET", SECRET)]);
        assert_eq!(
            CommonConfig::from_env(&unset, "x", 1, true)
                .unwrap()
                .database_url,
            None
        );
    }

    #[test]
    fn helpers() {
        let env = Env::from_pairs([("A", "True"), ("B", "Closed"), ("C", "maybe")]);
        assert_eq!(env.flag("A", false), Ok(true));
        assert!(env.flag("C", false).is_err());
        assert_eq!(env.choice("B", &["open", "closed"]), Ok("closed"));
        assert_eq!(env.choice("Z", &["open", "closed"]), Ok("open"));
    }

    #[test]
    fn flags_are_true_or_false_and_nothing_else() {
        for (value, expected) in [
            ("true", true),
            ("TRUE", true),
            (" true ", true),
            ("false", false),
            ("False", false),
        ] {
            let env = Env::from_pairs([("DEMO_USERS", value)]);
            assert_eq!(env.flag("DEMO_USERS", !expected), Ok(expected), "{value:?}");
        }
        assert_eq!(Env::default().flag("DEMO_USERS", false), Ok(false));
        assert_eq!(
            Env::from_pairs([("DEMO_USERS", "")]).flag("DEMO_USERS", true),
            Ok(true),
            "an empty value is unset"
        );
        for value in ["1", "0", "yes", "no", "on", "off", "y", "t", "truee"] {
            let env = Env::from_pairs([("DEMO_USERS", value)]);
            assert_eq!(
                env.flag("DEMO_USERS", false).unwrap_err().to_string(),
                "DEMO_USERS is invalid: must be true or false",
                "{value:?}"
            );
        }
    }
}
