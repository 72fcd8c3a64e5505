//! The `attendance` binary: configuration, journal replay, then the server until SIGTERM.

use attendance::ledger::Ledger;
use attendance::routes::Attendance;
use attendance::storage::CheckIns;
use service_kit::auth::Authenticator;
use service_kit::cli::{self, Command};
use service_kit::config::{CommonConfig, Env, EXIT_CONFIG};
use service_kit::server::{self, log_line, ServerOptions};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

const NAME: &str = "attendance";
const DEFAULT_PORT: u16 = 18082;
const ABOUT: &str = "TixGo attendance service (check-ins and attendance lists)";

/// Exit code for a start refused because of the data directory or its journal.
const EXIT_JOURNAL: u8 = 1;

/// Exit code for an unknown command-line argument.
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    match cli::parse_args(std::env::args().skip(1)) {
        Command::Serve => serve(),
        Command::Help => {
            print!("{}", cli::usage(NAME, ABOUT, DEFAULT_PORT));
            ExitCode::SUCCESS
        }
        Command::Version => {
            println!("{NAME} {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Healthcheck => {
            if cli::healthcheck(&Env::from_process(), DEFAULT_PORT) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Command::Unknown(arg) => {
            eprint!(
                "{NAME}: unknown argument {arg:?}\n\n{}",
                cli::usage(NAME, ABOUT, DEFAULT_PORT)
            );
            ExitCode::from(EXIT_USAGE)
        }
    }
}

fn serve() -> ExitCode {
    let config = match CommonConfig::from_env(&Env::from_process(), NAME, DEFAULT_PORT) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{NAME}: {e}");
            return ExitCode::from(EXIT_CONFIG as u8);
        }
    };
    let started = Instant::now();
    let (ledger, report) = match Ledger::open(&config.data_dir) {
        Ok(opened) => opened,
        Err(e) => {
            eprintln!("{NAME}: {e}");
            return ExitCode::from(EXIT_JOURNAL);
        }
    };
    if let Some(line) = report.dropped_torn_line {
        eprintln!(
            "{NAME}: warning: dropped the torn last line {}:{line} (left by a crash mid-write)",
            report.path.display()
        );
    }
    log_line(&format!(
        "{NAME} replayed {} journal records from {} in {} ms",
        report.records,
        report.path.display(),
        started.elapsed().as_millis()
    ));
    let service = Arc::new(Attendance::new(Authenticator::new(config.jwt_key), ledger));
    let options = ServerOptions {
        name: NAME,
        bind: config.bind,
        workers: config.workers,
        offload_threads: 0,
        offload_queue: 0,
        cors_origins: config.cors_origins,
    };
    if let Err(e) = server::serve(Arc::clone(&service), options) {
        eprintln!("{NAME}: {e}");
        return ExitCode::FAILURE;
    }
    // The workers answered every check-in they took; this is the final sync.
    if let Err(e) = service.ledger().settle() {
        eprintln!("{NAME}: {e}");
        return ExitCode::FAILURE;
    }
    log_line(&format!("{NAME}: stopped"));
    ExitCode::SUCCESS
}
