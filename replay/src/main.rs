//! `keyledger-replay`: see [`replay::cli`].
use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    replay::cli::run(std::env::args().skip(1).collect()).await
}
