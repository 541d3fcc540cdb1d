//! `keyledger-replay verify LEDGER.db`: verify a ledger file offline.
use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    match args.as_slice() {
        [_, cmd, path] if cmd == "verify" => {
            match replay::verify_sqlite(std::path::Path::new(path)).await {
                Ok(verified) => {
                    println!("{verified}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("verification failed: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        _ => {
            eprintln!("usage: keyledger-replay verify LEDGER.db");
            ExitCode::from(2)
        }
    }
}
