//! The start-up both binaries share, written once: the command line, the configuration, opening
//! storage with its replay line, serving, the final settle and the exit codes.
//!
//! A binary's `main` is `service_kit::startup::main::<TheService>()`; the service says what is
//! its own through [`Program`]: its settings, how its storage opens, how the service is built
//! from both, and how its storage is made durable at the end.

use crate::app::{App, Service};
use crate::cli::{self, Command};
use crate::config::{CommonConfig, ConfigError, Env};
use crate::server::{self, ServerError, ServerOptions};
use crate::{flush_access_log, log_line};
use std::error::Error;
use std::fmt;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

/// The exit code for a start refused because of the configuration or the command line.
pub const EXIT_CONFIG: u8 = 2;

/// The exit code for a start refused by the storage, or a failure while serving or stopping.
pub const EXIT_FAILURE: u8 = 1;

/// An environment variable a binary reads, as `--help` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variable {
    /// The variable.
    pub name: &'static str,
    /// Its default, or what happens when it is unset.
    pub default: &'static str,
    /// What it holds.
    pub rule: &'static str,
}

/// The variables both services read ([`CommonConfig`]).
pub const COMMON_VARIABLES: &[Variable] = &[
    Variable {
        name: "JWT_SECRET",
        default: "required",
        rule: "the HS256 secret shared by both services, at least 32 bytes",
    },
    Variable {
        name: "JWT_ALG",
        default: "HS256",
        rule: "only HS256 is accepted",
    },
    Variable {
        name: "TOKEN_EXPIRE_MINUTES",
        default: "120",
        rule: "lifetime of issued tokens, 1..=10080",
    },
    Variable {
        name: "PORT",
        default: "the service's port",
        rule: "port to listen on (0: any free port)",
    },
    Variable {
        name: "BIND_ADDR",
        default: "0.0.0.0",
        rule: "IPv4 or IPv6 address to listen on",
    },
    Variable {
        name: "DATA_DIR",
        default: "./data/<service>",
        rule: "directory holding the journal; created if absent",
    },
    Variable {
        name: "DATABASE_URL",
        default: "unset (the journal)",
        rule: "PostgreSQL; this build has none and refuses to start when it is set",
    },
    Variable {
        name: "WORKERS",
        default: "4 per core (8..=64); identity 8 per core (16..=64)",
        rule: "request worker threads, 1..=1024",
    },
    Variable {
        name: "CORS_ORIGINS",
        default: "empty (no CORS headers)",
        rule: "comma-separated origins allowed to call from a browser",
    },
    Variable {
        name: "WRITE_LIMIT_PER_USER",
        default: "50",
        rule: "writes a second per user, bursts of 10x; 0 turns it off (benchmarks, load tests)",
    },
];

/// A command of a service's own (`identity user ...`), for `--help`.
#[derive(Debug, Clone, Copy)]
pub struct OwnCommand {
    /// The first argument that selects it (`user`).
    pub name: &'static str,
    /// Its usage lines, each `<arguments>  <what it does>`, after the binary's name.
    pub usage: &'static [&'static str],
}

/// What storage [`Program::open`] opened, for the replay line.
#[derive(Debug)]
pub struct Opened<T> {
    /// The storage.
    pub storage: T,
    /// How many records it replayed.
    pub records: u64,
    /// Where they came from (the journal's path).
    pub source: String,
    /// The 1-based line number of a torn last line that was cut off, if one was.
    pub torn_line: Option<u64>,
}

/// A failure of a service's own start-up step, with the step's message.
pub type StepError = Box<dyn Error + Send + Sync>;

/// What a service binary adds to the shared start-up.
pub trait Program: Service {
    /// One line for `--help`.
    const ABOUT: &'static str;
    /// The port when `PORT` is not set.
    const DEFAULT_PORT: u16;
    /// The variables this service reads besides [`COMMON_VARIABLES`].
    const OWN_VARIABLES: &'static [Variable];

    /// Everything the service reads from the environment.
    type Settings;
    /// The opened storage the service is built on.
    type Storage;

    /// Reads and checks the settings; the first bad variable is the error.
    fn settings(env: &Env) -> Result<Self::Settings, ConfigError>;
    /// The settings both services share.
    fn common(settings: &Self::Settings) -> &CommonConfig;
    /// Opens (and replays) the storage.
    fn open(settings: &Self::Settings) -> Result<Opened<Self::Storage>, StepError>;
    /// Builds the service (creating configured users, for example).
    fn start(settings: Self::Settings, storage: Self::Storage) -> Result<Self, StepError>;
    /// Makes everything written so far durable, at the end.
    fn settle(&self) -> Result<(), StepError>;

    /// The service's own commands besides serving, `healthcheck`, `--version` and `--help`.
    const COMMANDS: &'static [OwnCommand] = &[];

    /// Runs the own command whose name is `args[0]` (one of [`Program::COMMANDS`]) with the
    /// arguments after it, and returns the exit code.
    fn command(args: &[String], _env: &Env) -> ExitCode {
        eprintln!("{}: unknown command {:?}", Self::NAME, args.first());
        ExitCode::from(EXIT_CONFIG)
    }
}

/// Why a start or a run failed, with its exit code.
#[derive(Debug)]
enum Failure {
    Config(ConfigError),
    Open(StepError),
    Start(StepError),
    Server(ServerError),
    Settle(StepError),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Config(e) => e.fmt(f),
            Failure::Open(e) | Failure::Start(e) => e.fmt(f),
            Failure::Server(e) => e.fmt(f),
            Failure::Settle(e) => write!(f, "could not make the data durable at the stop: {e}"),
        }
    }
}

impl Failure {
    fn exit_code(&self) -> u8 {
        match self {
            Failure::Config(_) => EXIT_CONFIG,
            Failure::Open(_) | Failure::Start(_) | Failure::Server(_) | Failure::Settle(_) => {
                EXIT_FAILURE
            }
        }
    }
}

/// Every variable `P` reads, common ones first.
pub fn variables<P: Program>() -> impl Iterator<Item = &'static Variable> {
    COMMON_VARIABLES.iter().chain(P::OWN_VARIABLES)
}

/// The `--help` text of `P`.
pub fn usage<P: Program>() -> String {
    let name = P::NAME;
    let mut text = format!(
        "{name} {version}: {about}\n\n\
         Usage:\n  {name}              run the service (configured by environment variables)\n  \
         {name} healthcheck  exit 0 if the service on PORT (default {port}) answers /health\n  \
         {name} --version    print the version\n  {name} --help       print this help\n",
        version = env!("CARGO_PKG_VERSION"),
        about = P::ABOUT,
        port = P::DEFAULT_PORT,
    );
    for command in P::COMMANDS {
        for line in command.usage {
            text.push_str(&format!("  {name} {} {line}\n", command.name));
        }
    }
    text.push_str("\nEnvironment:\n");
    for variable in variables::<P>() {
        text.push_str(&format!(
            "  {:<22} {} (default: {})\n",
            variable.name, variable.rule, variable.default
        ));
    }
    text
}

/// The whole life of a service binary: the command line, then configuration, storage, serving
/// until SIGTERM/SIGINT, and the final settle. Returns the exit code.
pub fn main<P: Program>() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match cli::parse_args(args.iter().cloned()) {
        Command::Help => {
            print!("{}", usage::<P>());
            ExitCode::SUCCESS
        }
        Command::Version => {
            println!("{} {}", P::NAME, env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Healthcheck => {
            if cli::healthcheck(&Env::from_process(), P::DEFAULT_PORT) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Command::Unknown(argument) if P::COMMANDS.iter().any(|c| c.name == argument) => {
            P::command(&args, &Env::from_process())
        }
        Command::Unknown(argument) => {
            eprint!(
                "{}: unknown argument {argument:?}\n\n{}",
                P::NAME,
                usage::<P>()
            );
            ExitCode::from(EXIT_CONFIG)
        }
        Command::Serve => match run::<P>(&Env::from_process()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(failure) => {
                flush_access_log();
                eprintln!("{}: {failure}", P::NAME);
                ExitCode::from(failure.exit_code())
            }
        },
    }
}

fn run<P: Program>(env: &Env) -> Result<(), Failure> {
    let settings = P::settings(env).map_err(Failure::Config)?;
    let started = Instant::now();
    let opened = P::open(&settings).map_err(Failure::Open)?;
    if let Some(line) = opened.torn_line {
        eprintln!(
            "{}: warning: dropped the torn last line {}:{line} (a write cut short by a crash); \
             nothing before it was lost",
            P::NAME,
            opened.source
        );
    }
    log_line(&format!(
        "{}: replayed {} records from {} in {} ms",
        P::NAME,
        opened.records,
        opened.source,
        started.elapsed().as_millis()
    ));
    let common = P::common(&settings);
    let options = ServerOptions {
        bind: common.bind,
        workers: common.workers,
        body_threads: BODY_THREADS,
    };
    let app = Arc::new(app::<P>(settings, opened.storage).map_err(Failure::Start)?);
    server::serve(Arc::clone(&app), &options).map_err(Failure::Server)?;
    app.service().settle().map_err(Failure::Settle)?;
    log_line(&format!("{}: stopped", P::NAME));
    Ok(())
}

/// The app of `P` as its binary runs it: the service started ([`Program::start`]) on its opened
/// storage, with the settings' CORS origins and per-user write limit. The binary serves it; the
/// in-process tests call it.
pub fn app<P: Program>(settings: P::Settings, storage: P::Storage) -> Result<App<P>, StepError> {
    let common = P::common(&settings);
    let (cors_origins, writes) = (common.cors_origins.clone(), common.write_limit());
    let service = P::start(settings, storage)?;
    Ok(App::new(service, cors_origins).with_write_limit(writes))
}

/// How many requests whose body is still on the wire may be answered at once, each on a thread
/// of its own (see the server's workers); more get 503. Well above what gates send (their
/// bodies are small enough to arrive with the headers), well below a container's pids limit.
const BODY_THREADS: usize = 128;
