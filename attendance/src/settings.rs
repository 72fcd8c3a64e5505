//! The attendance service's configuration: the common variables of SPEC §2, and its tunables.
//!
//! Attendance reads no variable of its own yet; everything it reads is in
//! [`service_kit::startup::COMMON_VARIABLES`], which `--help` lists.

use service_kit::startup::Variable;
use service_kit::{CommonConfig, ConfigError, Env};

/// The port attendance listens on when `PORT` is not set.
pub const DEFAULT_PORT: u16 = 18082;

/// The variables attendance reads besides the common ones.
pub const OWN_VARIABLES: &[Variable] = &[];

/// Everything attendance reads from the environment.
#[derive(Debug)]
pub struct Settings {
    /// What both services share (secret, token lifetime, address, data directory, workers, CORS).
    pub common: CommonConfig,
}

impl Settings {
    /// Reads and checks every variable; the first bad one is the error.
    pub fn from_env(env: &Env) -> Result<Settings, ConfigError> {
        Ok(Settings {
            common: CommonConfig::from_env(env, "attendance", DEFAULT_PORT)?,
        })
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
}
