//! The `keyledger` command: `serve`, `verify`, `state` and `rebuild`.

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use keyledger::app::bootstrap::{self, Settings, LEDGER_FILE};
use keyledger::config::{FileConfig, DEFAULT_DATA_DIR, DEFAULT_LISTEN, DEFAULT_REGION};
use keyledger::domain::ids::{AccountId, Region};
use keyledger::http;
use keyledger::ledger::sqlite::SqliteLedger;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// mimalloc: the request path makes many small, short-lived allocations.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "keyledger",
    version,
    about = "An audit-first key management service speaking the AWS KMS protocol"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service.
    Serve {
        /// Where the ledger, root key and admin credentials live [default: ./keyledger-data].
        #[arg(long, env = "KEYLEDGER_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// HOST:PORT to listen on; port 0 picks a free port [default: 127.0.0.1:8080].
        #[arg(long, env = "KEYLEDGER_LISTEN")]
        listen: Option<String>,
        /// Region for the admin credentials file and for unauthenticated records [default: us-east-1].
        #[arg(long, env = "KEYLEDGER_REGION")]
        region: Option<String>,
        /// The 12-digit account id to create on first start [default: random].
        #[arg(long, env = "KEYLEDGER_ACCOUNT_ID")]
        account_id: Option<String>,
        /// HTTP worker threads [default: number of CPUs].
        #[arg(long, env = "KEYLEDGER_WORKERS")]
        workers: Option<usize>,
        /// A TOML file with any of: data_dir, listen, region, account_id, workers.
        #[arg(long, env = "KEYLEDGER_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Verify the ledger's hash chain offline.
    Verify {
        #[arg(long, env = "KEYLEDGER_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Rebuild key state from the ledger alone and print it as JSON (no server, no keys used).
    State {
        #[arg(long, env = "KEYLEDGER_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
    /// Empty a read model's tables and rebuild them from the log (best with the server stopped).
    Rebuild {
        /// The read model (`key_usage`), or `all`.
        name: String,
        #[arg(long, env = "KEYLEDGER_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KEYLEDGER_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve {
            data_dir,
            listen,
            region,
            account_id,
            workers,
            config,
        } => serve(data_dir, listen, region, account_id, workers, config),
        Command::Verify { data_dir } => {
            verify(data_dir.unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)))
        }
        Command::State { data_dir } => {
            state(data_dir.unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)))
        }
        Command::Rebuild { name, data_dir } => rebuild(
            &name,
            data_dir.unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
        ),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("keyledger: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(
    data_dir: Option<PathBuf>,
    listen: Option<String>,
    region: Option<String>,
    account_id: Option<String>,
    workers: Option<usize>,
    config: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let file = match &config {
        Some(path) => FileConfig::load(path).map_err(anyhow::Error::msg)?,
        None => FileConfig::default(),
    };
    let data_dir = data_dir
        .or(file.data_dir)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    let listen = listen
        .or(file.listen)
        .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let region_text = region
        .or(file.region)
        .unwrap_or_else(|| DEFAULT_REGION.to_owned());
    let Some(region) = Region::parse(&region_text) else {
        bail!("invalid region {region_text:?}")
    };
    let account_id = match account_id.or(file.account_id) {
        None => None,
        Some(text) => match AccountId::parse(&text) {
            Some(a) => Some(a),
            None => bail!("invalid account id {text:?}: it must be 12 digits"),
        },
    };
    let workers = workers
        .or(file.workers)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));

    // One thread for the ledger writer, scheduler and checkpointer: HTTP runs on actix's
    // own worker threads, so more threads here would only add context switches.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = std::net::TcpListener::bind(&listen)
            .with_context(|| format!("cannot listen on {listen}"))?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let shared = Arc::new(http::Shared::default());
        let server = http::serve(listener, shared.clone(), workers)?;
        let handle = server.handle();
        let running = tokio::spawn(server);
        println!("keyledger: data dir {}", data_dir.display());
        println!("listening on http://{address}");

        let settings = Settings {
            data_dir: data_dir.clone(),
            region,
            account_id,
        };
        match bootstrap::open(&settings).await {
            Ok(opened) => {
                println!("account {}", opened.account_id);
                println!("admin credentials: {}", opened.credentials_path.display());
                println!("ready");
                tokio::spawn(keyledger::app::scheduler::run_forever(
                    opened.service.clone(),
                ));
                shared.set_ready(opened.service);
            }
            Err(e) => {
                handle.stop(false).await;
                return Err(anyhow::Error::new(e).context("cannot open the data dir"));
            }
        }
        running.await??;
        Ok(ExitCode::SUCCESS)
    })
}

fn state(data_dir: PathBuf) -> anyhow::Result<ExitCode> {
    use keyledger::crypto::{keyring::Keyring, root_key::RootKey, secret::SecretKey};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let path = data_dir.join(LEDGER_FILE);
    if !path.exists() {
        bail!("{} does not exist", path.display());
    }
    let snapshot = runtime.block_on(async {
        let reader = SqliteLedger::open_read_only(&path).await?;
        let events = reader.read_lifecycle(0).await?;
        // The fold needs no key: a throwaway keyring stands in for the real one.
        let keyring = Keyring::new(RootKey::from_secret(SecretKey::generate()));
        let projections = keyledger::projections::Projections::new(Arc::new(keyring));
        projections.replay(&events)?;
        anyhow::Ok(projections.snapshot_json())
    })?;
    println!("{}", serde_json::to_string_pretty(&snapshot)?);
    Ok(ExitCode::SUCCESS)
}

fn rebuild(name: &str, data_dir: PathBuf) -> anyhow::Result<ExitCode> {
    let models: Vec<_> = keyledger::projections::read_models()
        .into_iter()
        .filter(|m| name == "all" || m.name() == name)
        .collect();
    if models.is_empty() {
        let known: Vec<_> = keyledger::projections::read_models()
            .iter()
            .map(|m| m.name())
            .collect();
        bail!(
            "no read model {name:?}: the read models are {} (or all)",
            known.join(", ")
        );
    }
    let path = data_dir.join(LEDGER_FILE);
    if !path.exists() {
        bail!("{} does not exist", path.display());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut ledger = SqliteLedger::open(&path, vec![]).await?;
        for model in models {
            // Drawn only when stderr is a terminal.
            let bar = indicatif::ProgressBar::new(0).with_style(
                indicatif::ProgressStyle::with_template(
                    "{msg:>10} [{bar:40}] {pos}/{len} events {per_sec} {eta}",
                )?
                .progress_chars("=> "),
            );
            bar.set_message(model.name());
            let started = std::time::Instant::now();
            let events = ledger
                .store
                .rebuild(model.as_ref(), &mut |done, total| {
                    bar.set_length(total);
                    bar.set_position(done);
                })
                .await?;
            bar.finish_and_clear();
            let seconds = started.elapsed().as_secs_f64();
            println!(
                "rebuilt {}: {events} events in {seconds:.2}s ({:.0} events/s)",
                model.name(),
                events as f64 / seconds.max(1e-9)
            );
        }
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

fn verify(data_dir: PathBuf) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let path = data_dir.join(LEDGER_FILE);
    match runtime.block_on(replay::verify_sqlite(&path)) {
        Ok(verified) => {
            println!("{verified}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("verification failed: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}
