//! `atom-harness`: run an ATOM integration component from the command line.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    atom_harness::init_logs();
    match atom_harness::run().await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
