//! The identity service's configuration: the common variables of SPEC §2 plus its own
//! (`BCRYPT_COST`, `REGISTRATION`, `ADMIN_USERNAME`/`ADMIN_PASSWORD`, `DEMO_USERS`,
//! `TRUSTED_PROXIES` and the per-address limits).
//!
//! Like [`CommonConfig`], an error names the variable and its rule and never echoes a value.

use crate::client_address::TrustedProxies;
use crate::credentials::{check_password, check_username};
use crate::throttle::{Policy, ADDRESS_POLICY};
use service_kit::startup::Variable;
use service_kit::{CommonConfig, ConfigError, Env, RateLimit};
use std::fmt;

/// The port identity listens on when `PORT` is not set.
pub const DEFAULT_PORT: u16 = 18081;

/// The variables identity reads besides the common ones.
pub const OWN_VARIABLES: &[Variable] = &[
    Variable {
        name: "BCRYPT_COST",
        default: "12",
        rule: "bcrypt cost of new password hashes, 10..=16",
    },
    Variable {
        name: "REGISTRATION",
        default: "open",
        rule: "open (anyone may register a committee user) or closed (admins register users)",
    },
    Variable {
        name: "ADMIN_USERNAME",
        default: "unset",
        rule: "with ADMIN_PASSWORD: the admin created at start when the name is free",
    },
    Variable {
        name: "ADMIN_PASSWORD",
        default: "unset",
        rule: "the bootstrap admin's password (never printed)",
    },
    Variable {
        name: "SIGNUP_LIMIT_PER_ADDRESS",
        default: "10",
        rule: "self sign-ups a minute per client address, bursts of 2x; 0 turns it off (tests)",
    },
    Variable {
        name: "LOGIN_FAILURES_PER_ADDRESS",
        default: "20",
        rule: "failed logins per client address in 15 minutes before 429; 0 turns it off (tests)",
    },
    Variable {
        name: "TRUSTED_PROXIES",
        default: "empty",
        rule:
            "comma-separated addresses or CIDR blocks (the edge) whose X-Forwarded-For is believed",
    },
    Variable {
        name: "DEMO_USERS",
        default: "false",
        rule: "true seeds panitia1/secret and admin1/secret, for local demos only",
    },
];

/// Identity's default `WORKERS`: eight per core (at least 16, at most 64), twice attendance's,
/// since a registration or login holds its worker while it runs or waits for a bcrypt turn.
pub fn default_workers() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    (cores * 8).clamp(16, 64)
}

/// How many bcrypt computations run at once: one per core, so logins never take more CPU than
/// the box has.
pub fn bcrypt_running() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

/// How many request workers may wait for a bcrypt turn before logins are answered 503: all but
/// the running ones and two more, so a burst of registrations or logins is queued rather than
/// refused while a login flood still leaves two workers to `/health` and `/auth/me`, which take
/// microseconds each.
pub fn bcrypt_waiting(workers: usize) -> usize {
    workers.saturating_sub(bcrypt_running() + 2)
}

/// Who may register users (`REGISTRATION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// Anyone may register a `committee` user; an `admin` needs an admin token.
    Open,
    /// Every registration needs an admin token.
    Closed,
}

/// The admin account to create at start when its name is free (`ADMIN_USERNAME`,
/// `ADMIN_PASSWORD`). Its `Debug` output never shows the password.
pub struct BootstrapAdmin {
    /// The admin's username.
    pub username: String,
    /// The admin's password, checked against the password rules.
    pub password: String,
}

impl fmt::Debug for BootstrapAdmin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BootstrapAdmin")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Everything identity reads from the environment.
#[derive(Debug)]
pub struct Settings {
    /// What both services share (secret, token lifetime, address, data directory, workers, CORS).
    pub common: CommonConfig,
    /// The bcrypt cost for new password hashes (`BCRYPT_COST`, 10..=16).
    pub bcrypt_cost: u32,
    /// Who may register (`REGISTRATION`).
    pub registration: Registration,
    /// The admin to create at start, when both `ADMIN_USERNAME` and `ADMIN_PASSWORD` are set.
    pub admin: Option<BootstrapAdmin>,
    /// Whether to seed the demo users of the original (`DEMO_USERS`).
    pub demo_users: bool,
    /// Self sign-ups a minute per client address (`SIGNUP_LIMIT_PER_ADDRESS`); 0: no limit.
    pub signups_per_minute: u32,
    /// Failed logins per client address in the window (`LOGIN_FAILURES_PER_ADDRESS`); 0: no
    /// limit.
    pub login_failures_per_address: u32,
    /// The proxies whose `X-Forwarded-For` names the client (`TRUSTED_PROXIES`).
    pub trusted_proxies: TrustedProxies,
}

impl Settings {
    /// Reads and checks every variable; the first bad one is the error.
    pub fn from_env(env: &Env) -> Result<Settings, ConfigError> {
        let mut common =
            CommonConfig::from_env(env, "identity", DEFAULT_PORT, cfg!(feature = "postgres"))?;
        if env.get("WORKERS").is_none() {
            common.workers = default_workers();
        }
        let bcrypt_cost = env.int_in("BCRYPT_COST", 12u32, 10..=16)?;
        let registration = match env.choice("REGISTRATION", &["open", "closed"])? {
            "closed" => Registration::Closed,
            _ => Registration::Open,
        };
        let admin = bootstrap_admin(env)?;
        let demo_users = env.flag("DEMO_USERS", false)?;
        let signups_per_minute = env.int_in("SIGNUP_LIMIT_PER_ADDRESS", 10u32, 0..=10_000)?;
        let login_failures_per_address =
            env.int_in("LOGIN_FAILURES_PER_ADDRESS", 20u32, 0..=10_000)?;
        let trusted_proxies = match env.get("TRUSTED_PROXIES") {
            None => TrustedProxies::none(),
            Some(text) => TrustedProxies::parse(text).map_err(|bad| ConfigError::Invalid {
                var: "TRUSTED_PROXIES",
                rule: format!("must list IP addresses and CIDR blocks, comma-separated: {bad}"),
            })?,
        };
        Ok(Settings {
            common,
            bcrypt_cost,
            registration,
            admin,
            demo_users,
            signups_per_minute,
            login_failures_per_address,
            trusted_proxies,
        })
    }

    /// The per-address login throttle's policy these settings ask for (SPEC §10), or `None`
    /// when it is off.
    pub fn address_policy(&self) -> Option<Policy> {
        let max_failures = usize::try_from(self.login_failures_per_address).ok()?;
        (max_failures > 0).then_some(Policy {
            max_failures,
            ..ADDRESS_POLICY
        })
    }

    /// The limit on self sign-ups per client address these settings ask for: bursts of twice
    /// the minute's allowance, then the allowance spread over the minute.
    ///
    /// A committee registering its volunteers from one phone, or a queue of attendees behind
    /// one venue NAT address, stays well inside the default (bursts of 20, then one every six
    /// seconds); a script making accounts as fast as it can gets 429 after the burst, and
    /// every sign-up it is refused costs no bcrypt. Behind the edge the address is the one the
    /// edge names in `X-Forwarded-For` when `TRUSTED_PROXIES` lists the edge (the compose file
    /// does), else the edge's own.
    pub fn signup_limit(&self) -> RateLimit {
        match self.signups_per_minute {
            0 => RateLimit::off(),
            n => RateLimit::new(f64::from(n) / 60.0, n.saturating_mul(2)),
        }
    }
}

fn bootstrap_admin(env: &Env) -> Result<Option<BootstrapAdmin>, ConfigError> {
    match (env.get("ADMIN_USERNAME"), env.get("ADMIN_PASSWORD")) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(ConfigError::Missing {
            var: "ADMIN_PASSWORD",
            rule: "ADMIN_USERNAME is set, so ADMIN_PASSWORD must be set too (or unset both)",
        }),
        (None, Some(_)) => Err(ConfigError::Missing {
            var: "ADMIN_USERNAME",
            rule: "ADMIN_PASSWORD is set, so ADMIN_USERNAME must be set too (or unset both)",
        }),
        (Some(username), Some(password)) => {
            check_username(username).map_err(|(_, why)| ConfigError::Invalid {
                var: "ADMIN_USERNAME",
                rule: format!(
                    "must be a valid username (3..=50 characters in Unicode NFKC form, no \
                     control or invisible characters, no leading or trailing whitespace): {why}"
                ),
            })?;
            check_password(password).map_err(|(_, why)| ConfigError::Invalid {
                var: "ADMIN_PASSWORD",
                rule: format!("must be a valid password: {why}"),
            })?;
            Ok(Some(BootstrapAdmin {
                username: username.to_owned(),
                password: password.to_owned(),
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let mut all = vec![("JWT_SECRET", SECRET)];
        all.extend_from_slice(pairs);
        Settings::from_env(&Env::from_pairs(all))
    }

    #[test]
    fn help_lists_exactly_the_variables_read() {
        let env = Env::from_pairs([("JWT_SECRET", SECRET)]);
        Settings::from_env(&env).unwrap();
        let mut listed: Vec<&str> = service_kit::startup::variables::<crate::routes::Identity>()
            .map(|v| v.name)
            .collect();
        listed.sort_unstable();
        assert_eq!(env.names_read(), listed);
    }

    #[test]
    fn a_login_flood_leaves_workers_free() {
        for workers in [1, 2, 32, 64, 256] {
            let held = bcrypt_running() + bcrypt_waiting(workers);
            assert!(workers < 4 || held + 2 <= workers, "{workers}");
        }
    }

    #[test]
    fn defaults() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.bcrypt_cost, 12);
        assert_eq!(s.registration, Registration::Open);
        assert!(s.admin.is_none());
        assert!(!s.demo_users);
        assert_eq!(s.common.bind.port(), DEFAULT_PORT);
        assert_eq!(s.common.workers, default_workers());
        assert_eq!(settings(&[("WORKERS", "3")]).unwrap().common.workers, 3);
        assert_eq!(s.signups_per_minute, 10);
        assert!(s.trusted_proxies.is_empty());
        assert_eq!(s.address_policy().unwrap().max_failures, 20);
        let off = settings(&[("LOGIN_FAILURES_PER_ADDRESS", "0")]).unwrap();
        assert!(off.address_policy().is_none());
        let behind = settings(&[("TRUSTED_PROXIES", "172.30.81.2, 10.0.0.0/8")]).unwrap();
        assert!(behind.trusted_proxies.contains("10.1.2.3".parse().unwrap()));
        assert!(!s.signup_limit().is_off());
        let off = settings(&[("SIGNUP_LIMIT_PER_ADDRESS", "0")]).unwrap();
        assert!(off.signup_limit().is_off());
    }

    #[test]
    fn own_variables() {
        let s = settings(&[
            ("BCRYPT_COST", "10"),
            ("REGISTRATION", "Closed"),
            ("ADMIN_USERNAME", "root"),
            ("ADMIN_PASSWORD", "s3cret-pass"),
            ("DEMO_USERS", "true"),
        ])
        .unwrap();
        assert_eq!(s.bcrypt_cost, 10);
        assert_eq!(s.registration, Registration::Closed);
        assert!(s.demo_users);
        let admin = s.admin.unwrap();
        assert_eq!(admin.username, "root");
        assert!(!format!("{admin:?}").contains("s3cret-pass"));
    }

    #[test]
    fn each_bad_variable_is_named_and_no_value_is_echoed() {
        for (pairs, var) in [
            (&[("BCRYPT_COST", "9")][..], "BCRYPT_COST"),
            (&[("BCRYPT_COST", "17")][..], "BCRYPT_COST"),
            (&[("REGISTRATION", "invite")][..], "REGISTRATION"),
            (&[("DEMO_USERS", "maybe")][..], "DEMO_USERS"),
            (&[("DEMO_USERS", "yes")][..], "DEMO_USERS"),
            (&[("DEMO_USERS", "1")][..], "DEMO_USERS"),
            (
                &[("SIGNUP_LIMIT_PER_ADDRESS", "-1")][..],
                "SIGNUP_LIMIT_PER_ADDRESS",
            ),
            (
                &[("SIGNUP_LIMIT_PER_ADDRESS", "10001")][..],
                "SIGNUP_LIMIT_PER_ADDRESS",
            ),
            (&[("TRUSTED_PROXIES", "hunter22")][..], "TRUSTED_PROXIES"),
            (&[("TRUSTED_PROXIES", "10.0.0.0/40")][..], "TRUSTED_PROXIES"),
            (
                &[("LOGIN_FAILURES_PER_ADDRESS", "x")][..],
                "LOGIN_FAILURES_PER_ADDRESS",
            ),
            (
                &[
                    ("ADMIN_USERNAME", "\u{FF52}oot"),
                    ("ADMIN_PASSWORD", "hunter22"),
                ][..],
                "ADMIN_USERNAME",
            ),
            (&[("ADMIN_USERNAME", "root")][..], "ADMIN_PASSWORD"),
            (&[("ADMIN_PASSWORD", "hunter22")][..], "ADMIN_USERNAME"),
            (
                &[("ADMIN_USERNAME", " root"), ("ADMIN_PASSWORD", "hunter22")][..],
                "ADMIN_USERNAME",
            ),
            (
                &[("ADMIN_USERNAME", "root"), ("ADMIN_PASSWORD", "abc")][..],
                "ADMIN_PASSWORD",
            ),
        ] {
            let message = settings(pairs).unwrap_err().to_string();
            assert!(message.starts_with(var), "{pairs:?}: {message}");
            assert!(!message.contains("hunter22"), "{message}");
        }
        let long = "p".repeat(73);
        let message = settings(&[("ADMIN_USERNAME", "root"), ("ADMIN_PASSWORD", &long)])
            .unwrap_err()
            .to_string();
        assert!(message.starts_with("ADMIN_PASSWORD"), "{message}");
        assert!(!message.contains(&long));
    }
}
