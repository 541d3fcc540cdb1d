//! The `keyledger` command: `serve` and `verify`.

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use keyledger::app::bootstrap::{self, Settings, LEDGER_FILE};
use keyledger::config::{FileConfig, DEFAULT_DATA_DIR, DEFAULT_LISTEN, DEFAULT_REGION};
use keyledger::domain::ids::{AccountId, Region};
use keyledger::http;
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
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(
                sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(&path)
                    .read_only(true),
            )
            .await?;
        let events = keyledger::ledger::sqlite::lifecycle_events(&pool).await?;
        // The fold needs no key: a throwaway keyring stands in for the real one.
        let keyring = Keyring::new(RootKey::from_secret(SecretKey::generate()));
        let projections = keyledger::projections::Projections::new(Arc::new(keyring));
        projections.replay(&events)?;
        anyhow::Ok(projections.snapshot_json())
    })?;
    println!("{}", serde_json::to_string_pretty(&snapshot)?);
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
