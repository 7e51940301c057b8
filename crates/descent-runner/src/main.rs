//! `descent`: run optimizer experiments and report what they show. The work is done by the
//! `descent_runner` library; this is its command line.

use std::process::ExitCode;

use descent_runner::cli::{dispatch, parse};
use descent_runner::error::exit_code;

/// mimalloc keeps freed memory for reuse where glibc's allocator unmaps large buffers and
/// faults them in again on the next allocation (workspace `Cargo.toml` has the measurement).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    descent_runner::openblas::ensure_environment();
    let cli = match parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit_code(&e))
        }
    }
}
