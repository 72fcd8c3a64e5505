//! The TixGo identity service: registers users, logs them in with bcrypt, issues HS256 JWTs and
//! says who a token belongs to (SPEC §4). Configured by environment variables (SPEC §2).
#![forbid(unsafe_code)]

use identity::passwords::Passwords;
use identity::routes::{Identity, Parts};
use identity::seed::{self, SeedError};
use identity::settings::{Settings, DEFAULT_PORT};
use identity::storage::{StorageError, Users};
use identity::throttle::{Throttle, LOGIN_POLICY};
use identity::users::UserStore;
use journal::JournalError;
use service_kit::auth::Authenticator;
use service_kit::cli::{self, Command};
use service_kit::config::{Env, EXIT_CONFIG};
use service_kit::server::{self, log_line, ServerError, ServerOptions};
use std::fmt;
use std::sync::Arc;

/// How many bcrypt jobs may wait for the offload pool before logins are answered 503.
const OFFLOAD_QUEUE: usize = 64;

fn main() {
    std::process::exit(run(cli::parse_args(std::env::args().skip(1))));
}

fn run(command: Command) -> i32 {
    match command {
        Command::Help => {
            print!("{}", usage());
            0
        }
        Command::Version => {
            println!("identity {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Command::Unknown(argument) => {
            eprint!("identity: unknown argument {argument:?}\n\n{}", usage());
            2
        }
        Command::Healthcheck => {
            if cli::healthcheck(&Env::from_process(), DEFAULT_PORT) {
                0
            } else {
                1
            }
        }
        Command::Serve => match Settings::from_env(&Env::from_process()) {
            Err(e) => {
                eprintln!("identity: {e}");
                EXIT_CONFIG
            }
            Ok(settings) => match serve(settings) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("identity: {e}");
                    1
                }
            },
        },
    }
}

fn usage() -> String {
    cli::usage(
        "identity",
        "registers TixGo users, logs them in and issues their tokens",
        DEFAULT_PORT,
    )
}

/// Why the service stopped with an error after its configuration was accepted.
#[derive(Debug)]
enum Failure {
    /// The journal could not be opened or replayed.
    Journal(JournalError),
    /// The users could not be settled at shutdown.
    Storage(StorageError),
    /// The bootstrap admin or a demo user could not be created.
    Seed(SeedError),
    /// The server could not start.
    Server(ServerError),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Journal(e) => e.fmt(f),
            Failure::Storage(e) => e.fmt(f),
            Failure::Seed(e) => e.fmt(f),
            Failure::Server(e) => e.fmt(f),
        }
    }
}

/// Replays the journal, creates the configured users, serves until SIGTERM/SIGINT, and makes the
/// journal durable.
fn serve(mut settings: Settings) -> Result<(), Failure> {
    let (users, report) = UserStore::open(&settings.common.data_dir).map_err(Failure::Journal)?;
    if let Some(line) = report.dropped_torn_line {
        eprintln!(
            "identity: warning: dropped the incomplete last line {}:{line} (a write cut short by \
             a crash); nothing before it was lost",
            report.path.display()
        );
    }
    log_line(&format!(
        "identity: replayed {} users from {}",
        report.records,
        report.path.display()
    ));
    let users = Arc::new(users);
    let passwords = Passwords::new(settings.bcrypt_cost);
    seed::seed(
        &*users,
        &passwords,
        settings.admin.take(),
        settings.demo_users,
    )
    .map_err(Failure::Seed)?;

    let common = settings.common;
    let service = Identity::new(Parts {
        users: Arc::clone(&users),
        passwords,
        throttle: Throttle::new(LOGIN_POLICY),
        auth: Authenticator::new(common.jwt_key),
        token_lifetime_secs: common.token_lifetime_secs,
        registration: settings.registration,
    });
    let options = ServerOptions {
        name: "identity",
        bind: common.bind,
        workers: common.workers,
        offload_threads: std::thread::available_parallelism().map_or(2, usize::from),
        offload_queue: OFFLOAD_QUEUE,
        cors_origins: common.cors_origins,
    };
    server::serve(Arc::new(service), options).map_err(Failure::Server)?;
    users.settle().map_err(Failure::Storage)?;
    log_line("identity: stopped");
    Ok(())
}
