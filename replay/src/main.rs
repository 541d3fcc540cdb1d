//! `keyledger-replay`: offline checks with no server and no keys.
//!
//! - `verify LEDGER.db [--vkey KEY]`: the chain, the trail tree and every checkpoint.
//! - `verify-export DIR --vkey KEY`: a trail export's digests and log files.
use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!("usage: keyledger-replay verify LEDGER.db [--vkey KEY]\n       keyledger-replay verify-export DIR --vkey KEY");
    ExitCode::from(2)
}

/// A verifier key given inline or as a file holding it.
fn vkey(arg: &str) -> String {
    match std::fs::read_to_string(arg) {
        Ok(text) => text.trim().to_owned(),
        Err(_) => arg.trim().to_owned(),
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let outcome: Result<String, String> = match args.as_slice() {
        ["verify", path, rest @ ..] => {
            let options = replay::VerifyOptions {
                vkey: match rest {
                    [] => None,
                    ["--vkey", key] => Some(vkey(key)),
                    _ => return usage(),
                },
                saved_checkpoint: None,
            };
            replay::verify_ledger(std::path::Path::new(path), &options, &mut |_, _| {})
                .await
                .map(|v| v.to_string())
                .map_err(|e| e.to_string())
        }
        ["verify-export", dir, "--vkey", key] => {
            replay::export::verify_export(std::path::Path::new(dir), &vkey(key))
                .map(|v| v.to_string())
                .map_err(|e| e.to_string())
        }
        _ => return usage(),
    };
    match outcome {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("verification failed: {e}");
            ExitCode::FAILURE
        }
    }
}
