//! A tiny service for the black-box tests of body limits (`tests/body_limits.rs`): the shared
//! start-up and server of service-kit, with one route that declares a large body limit, as
//! SPEC §8's ticket import does, and one that keeps the 64 KiB cap. Not a product: no storage,
//! and nothing ships it; the tests start it on a loopback port, as `testkit::Launch` starts the
//! real services.
//!
//! - `POST /imports/{name}` (admin, up to [`IMPORT_LIMIT`]) and `POST /notes` (any role, 64 KiB)
//!   both answer 200 `{"bytes": <length>, "sum": <sum of the bytes>}`, so a test sees that the
//!   handler got every byte it sent.

use service_kit::startup::{Opened, Program, StepError, Variable};
use service_kit::{
    Authenticator, Call, Claims, CommonConfig, ConfigError, Env, Method, Metrics, Response, Route,
    Service,
};
use std::sync::Arc;

/// The import route's limit: the ticket import's 16 MiB.
const IMPORT_LIMIT: usize = 16 << 20;

struct BodyLimits {
    auth: Authenticator,
    metrics: Arc<Metrics>,
}

fn count(_: &BodyLimits, call: &Call<'_>, _: &Claims) -> Response {
    let sum: u64 = call.body.iter().map(|&b| u64::from(b)).sum();
    Response::json(
        200,
        &serde_json::json!({ "bytes": call.body.len(), "sum": sum }),
    )
}

impl Service for BodyLimits {
    const NAME: &'static str = "body-limits";

    fn routes() -> Vec<Route<Self>> {
        vec![
            Route::admin(Method::Post, "/imports/{name}", count).with_body_limit(IMPORT_LIMIT),
            Route::any_role(Method::Post, "/notes", count),
        ]
    }

    fn authenticator(&self) -> &Authenticator {
        &self.auth
    }

    fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }
}

impl Program for BodyLimits {
    const ABOUT: &'static str = "body limits under test";
    const DEFAULT_PORT: u16 = 0;
    const OWN_VARIABLES: &'static [Variable] = &[];
    type Settings = CommonConfig;
    type Storage = ();

    fn settings(env: &Env) -> Result<CommonConfig, ConfigError> {
        CommonConfig::from_env(env, "body-limits", Self::DEFAULT_PORT, false)
    }

    fn common(settings: &CommonConfig) -> &CommonConfig {
        settings
    }

    fn open(_: &CommonConfig) -> Result<Opened<()>, StepError> {
        Ok(Opened {
            storage: (),
            records: 0,
            source: "no storage".to_owned(),
            torn_line: None,
        })
    }

    fn start(settings: CommonConfig, (): ()) -> Result<BodyLimits, StepError> {
        Ok(BodyLimits {
            auth: Authenticator::new(settings.jwt_key),
            metrics: Arc::default(),
        })
    }

    fn settle(&self) -> Result<(), StepError> {
        Ok(())
    }
}

fn main() -> std::process::ExitCode {
    service_kit::startup::main::<BodyLimits>()
}
