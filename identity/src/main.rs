//! The `identity` binary: the shared start-up of service-kit, over the journal's users.
#![forbid(unsafe_code)]

use identity::routes::Identity;

fn main() -> std::process::ExitCode {
    service_kit::startup::main::<Identity>()
}
