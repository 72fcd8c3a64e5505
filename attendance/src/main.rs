//! The `attendance` binary: the shared start-up of service-kit, over the journal's check-ins.
#![forbid(unsafe_code)]

use attendance::routes::Attendance;

fn main() -> std::process::ExitCode {
    service_kit::startup::main::<Attendance>()
}
