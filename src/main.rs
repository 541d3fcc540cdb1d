//! The `keyledger` command: `serve`, `verify`, `state`, `trail export`, `rebuild`,
//! `admin create-account` and `config check`.

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use keyledger::app::bootstrap::{self, Settings, LEDGER_FILE};
use keyledger::config::{FileConfig, LogFormat, DEFAULT_DATA_DIR, DEFAULT_LISTEN, DEFAULT_REGION};
use keyledger::domain::ids::{AccountId, Region};
use keyledger::http;
use keyledger::ledger::sqlite::SqliteLedger;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// mimalloc: the request path makes many small, short-lived allocations.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `--version`: the version, and whether this build carries the FIPS module (decision 0015).
#[cfg(feature = "fips")]
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (FIPS: this build carries AWS-LC's FIPS 140-3 module; FIPS mode is on with --fips)"
);
#[cfg(not(feature = "fips"))]
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (FIPS: not in this build; FIPS mode needs `cargo build --release --features fips`)"
);

#[derive(Parser)]
#[command(
    name = "keyledger",
    version = VERSION,
    about = "An audit-first key management service speaking the AWS KMS protocol"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Let the process dump core (by default it cannot: a core file would hold keys).
    #[arg(long, global = true, env = "KEYLEDGER_ALLOW_CORE_DUMPS")]
    allow_core_dumps: bool,
    /// FIPS mode: every cryptographic operation through AWS-LC's FIPS 140-3 module; refused
    /// unless the build has it (`--features fips`) and the module is in FIPS mode. Fixed when
    /// a ledger is created: a ledger made without it never opens with it, nor the reverse.
    #[arg(long, global = true, env = "KEYLEDGER_FIPS", num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new())]
    fips: Option<bool>,
    /// Log lines on stderr as human-readable text or as one JSON object per line
    /// [default: the config file's log_format, else text].
    #[arg(long, global = true, env = "KEYLEDGER_LOG_FORMAT", value_enum)]
    log_format: Option<LogFormat>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service.
    Serve(ServeArgs),
    /// Verify the ledger offline: the hash chain, the trail tree, every checkpoint's
    /// signature and root, and that the newest checkpoint covers the whole log.
    Verify {
        #[arg(long, env = "KEYLEDGER_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// Verify the ledger on this PostgreSQL database instead of the data dir's file.
        #[arg(long, env = "KEYLEDGER_DATABASE")]
        database: Option<String>,
        /// A signed checkpoint saved earlier (from `/v1/trail/checkpoint`): the ledger must
        /// extend it; any rewrite of what it covered fails.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        /// The verifier key checkpoints must be signed with (`<name>+<id>+<base64>`, or a
        /// file holding it) [default: the key the ledger's own TrailKeyCreated event names].
        #[arg(long)]
        vkey: Option<String>,
    },
    /// Rebuild key state from the ledger alone and print it as JSON (no server, no keys used).
    State {
        #[arg(long, env = "KEYLEDGER_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
    /// The audit trail, offline.
    Trail {
        #[command(subcommand)]
        command: TrailCommand,
    },
    /// The billing and compliance reports, offline (the same as `/v1/reports/…`).
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// Administration: accounts.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// The TOML config file.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Empty a read model's tables and rebuild them from the log (best with the server stopped).
    Rebuild {
        /// The read model (`key_usage`, `trail_index`, `billing`, `compliance`), or `all`.
        name: String,
        #[arg(long, env = "KEYLEDGER_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an account and write its root user's credentials (the admin-credentials.json
    /// format) to --out: on the data dir (the server stopped), or through a running server
    /// with --endpoint (as the bootstrap account's root user or admin).
    CreateAccount {
        /// The new account's 12-digit id [default: random].
        #[arg(long)]
        account_id: Option<String>,
        /// Where to write the credentials (created, mode 0600; never overwritten).
        #[arg(long)]
        out: PathBuf,
        #[arg(long, env = "KEYLEDGER_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// A running server (`http://HOST:PORT`): create the account through it.
        #[arg(long)]
        endpoint: Option<String>,
        /// With --endpoint: the credentials to sign with [default: the data dir's
        /// admin-credentials.json].
        #[arg(long)]
        credentials: Option<PathBuf>,
        /// Without --endpoint: the ledger on this PostgreSQL database instead of the data
        /// dir's SQLite file (the data dir still holds the root key unless
        /// KEYLEDGER_ROOT_KEY or --root-key-file says otherwise).
        #[arg(long, env = "KEYLEDGER_DATABASE")]
        database: Option<String>,
        #[arg(long, env = "KEYLEDGER_ROOT_KEY_FILE")]
        root_key_file: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Parse and check a config file as `serve` would (unknown keys, bad values such as a
    /// region or listen address, tls_cert without tls_key), load the TLS certificate and key
    /// it names and connect to its database: print `ok` and exit 0, or print the problem and
    /// exit 1. Nothing is started or written.
    Check {
        file: PathBuf,
        /// Check the values only: open none of the files it names, connect to nothing.
        #[arg(long)]
        values_only: bool,
    },
}

#[derive(Subcommand)]
enum TrailCommand {
    /// Write the usage events of [--from, --to) as CloudTrail log files (gzipped
    /// `{"Records": [...]}`, one per hour) with a signed, chained digest per hour; check it
    /// with `keyledger-replay verify-export DIR --vkey KEY`.
    Export {
        /// Start, RFC 3339 (e.g. 2026-12-01T00:00:00Z).
        #[arg(long)]
        from: String,
        /// End (exclusive), RFC 3339.
        #[arg(long)]
        to: String,
        /// A new or empty directory.
        #[arg(long)]
        out: PathBuf,
        #[arg(long, env = "KEYLEDGER_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ReportCommand {
    /// A month's usage bill: requests per key and price class, key-months, rotations, the
    /// free tier, totals.
    Billing {
        /// The month, YYYY-MM (UTC) [default: this month].
        #[arg(long)]
        month: Option<String>,
        /// One account's bill [default: every account's].
        #[arg(long)]
        account: Option<String>,
        /// json, csv or html.
        #[arg(long, default_value = "json")]
        format: String,
        #[command(flatten)]
        source: ReportSource,
    },
    /// Key inventory, rotation, deletions, policy changes, denied requests, usage, unused
    /// keys and the trail's integrity, as of a time.
    Compliance {
        /// RFC 3339; the report as it would have read then [default: now].
        #[arg(long)]
        as_of: Option<String>,
        /// json or html.
        #[arg(long, default_value = "json")]
        format: String,
        #[command(flatten)]
        source: ReportSource,
    },
}

/// Where a report is read from, and the settings it applies.
#[derive(clap::Args)]
struct ReportSource {
    #[arg(long, env = "KEYLEDGER_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The config file whose `[billing]` prices and `[compliance]` thresholds apply.
    #[arg(long, env = "KEYLEDGER_CONFIG")]
    config: Option<PathBuf>,
}

fn main() -> ExitCode {
    // Before any thread exists: the environment is changed here and nowhere else.
    take_root_key_from_env();
    let cli = Cli::parse();
    // Writes the buffered log lines when main returns (and before an error is printed).
    let logs = init_logging(
        cli.log_format
            .unwrap_or_else(|| file_log_format(&cli.command)),
    );
    if !cli.allow_core_dumps {
        if let Err(e) = forbid_core_dumps() {
            eprintln!("keyledger: cannot turn core dumps off: {e}");
            return ExitCode::FAILURE;
        }
    }
    let result = match cli.command {
        Command::Serve(args) => serve(args, cli.fips),
        Command::Verify {
            data_dir,
            database,
            checkpoint,
            vkey,
        } => verify(
            database.unwrap_or_else(|| {
                data_dir
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
                    .join(LEDGER_FILE)
                    .display()
                    .to_string()
            }),
            checkpoint,
            vkey,
        ),
        Command::State { data_dir } => {
            state(data_dir.unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)))
        }
        Command::Trail {
            command:
                TrailCommand::Export {
                    from,
                    to,
                    out,
                    data_dir,
                },
        } => export(
            &from,
            &to,
            &out,
            data_dir.unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
        ),
        Command::Report { command } => report(command),
        Command::Admin {
            command:
                AdminCommand::CreateAccount {
                    account_id,
                    out,
                    data_dir,
                    endpoint,
                    credentials,
                    database,
                    root_key_file,
                },
        } => create_account(
            account_id.as_deref(),
            &out,
            data_dir.unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            endpoint.as_deref(),
            credentials,
            database,
            root_key_file,
            cli.fips.unwrap_or(false),
        ),
        Command::Config {
            command: ConfigCommand::Check { file, values_only },
        } => Ok(config_check(&file, values_only)),
        Command::Rebuild { name, data_dir } => rebuild(
            &name,
            data_dir.unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
        ),
    };
    logs.flush();
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("keyledger: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Log lines to stderr, filtered by KEYLEDGER_LOG (default `info`), as text or JSON; each
/// request's lines carry its request id (the `request` span of `http`). Colours only on a
/// terminal. Lines are buffered and written in batches (`keyledger::logging`); the flusher
/// writes what is left.
fn init_logging(format: LogFormat) -> keyledger::logging::Flusher {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KEYLEDGER_LOG")
        .unwrap_or_else(|_| "info".into());
    let (writer, flusher) = keyledger::logging::start();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => logs.json().init(),
    }
    flusher
}

/// The log format of the config file the command reads, if it names one. A file that does
/// not load gives the default here; the command itself reports the problem.
fn file_log_format(command: &Command) -> LogFormat {
    let path = match command {
        Command::Serve(args) => args.config.as_deref(),
        Command::Report {
            command:
                ReportCommand::Billing { source, .. } | ReportCommand::Compliance { source, .. },
        } => source.config.as_deref(),
        _ => None,
    };
    path.and_then(|path| FileConfig::load(path).ok())
        .and_then(|file| file.log_format)
        .unwrap_or_default()
}

/// `config check FILE`: `ok`, or the first problem. Beyond the file's values, it loads the
/// TLS certificate and key it names (as `serve` would) and connects to its database, unless
/// `--values-only`.
fn config_check(path: &Path, values_only: bool) -> ExitCode {
    let checked = FileConfig::load(path).and_then(|file| {
        file.validate()
            .map_err(|e| format!("config file {}: {e}", path.display()))?;
        if values_only {
            return Ok(());
        }
        if let (Some(cert), Some(key)) = (&file.tls_cert, &file.tls_key) {
            http::tls::CertificateReloader::load(cert, key, file.fips.unwrap_or(false))
                .map_err(|e| format!("config file {}: {e}", path.display()))?;
        }
        if let Some(url) = &file.database {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start a runtime: {e}"))?;
            runtime
                .block_on(
                    keyledger::ledger::postgres::PostgresLedger::check_reachable(
                        url,
                        std::time::Duration::from_secs(10),
                    ),
                )
                .map_err(|e| format!("config file {}: {e}", path.display()))?;
        }
        Ok(())
    });
    match checked {
        Ok(()) => {
            println!("ok");
            ExitCode::SUCCESS
        }
        Err(problem) => {
            println!("{problem}");
            ExitCode::FAILURE
        }
    }
}

/// `serve`'s flags, each falling back to the config file, then to the default.
#[derive(clap::Args)]
struct ServeArgs {
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
    /// The origin line of the trail's checkpoints (and its note key's name), fixed when
    /// the ledger is created [default: keyledger/<account id>].
    #[arg(long, env = "KEYLEDGER_TRAIL_ORIGIN")]
    trail_origin: Option<String>,
    /// Serve the trail's checkpoint and hash tiles (`/v1/trail/tlog/checkpoint`,
    /// `/v1/trail/tlog/tile/…`; hashes only, never events) without credentials, for witnesses.
    #[arg(long, env = "KEYLEDGER_PUBLIC_TLOG", num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new())]
    public_tlog: Option<bool>,
    /// The ledger on PostgreSQL (`postgres://user:password@host:port/db`), shared by every
    /// node started on it, instead of the data dir's SQLite file.
    #[arg(long, env = "KEYLEDGER_DATABASE")]
    database: Option<String>,
    /// The root key file; nodes on one database must share it (or KEYLEDGER_ROOT_KEY)
    /// [default: root.key in the data dir].
    #[arg(long, env = "KEYLEDGER_ROOT_KEY_FILE")]
    root_key_file: Option<PathBuf>,
    /// Serve HTTPS with this certificate chain (PEM, leaf first); needs --tls-key. SIGHUP
    /// reloads both files.
    #[arg(long, env = "KEYLEDGER_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, env = "KEYLEDGER_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// Serve plain HTTP on a non-loopback address (refused without it: Decrypt and
    /// GenerateDataKey answers would cross the network in clear).
    #[arg(long, env = "KEYLEDGER_ALLOW_PLAIN_HTTP", num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = clap::builder::BoolishValueParser::new())]
    allow_plain_http: Option<bool>,
    /// A TOML file with any of: data_dir, listen, region, account_id, workers,
    /// trail_origin, public_tlog, database, root_key_file, fips, tls_cert, tls_key,
    /// allow_plain_http, log_format, [billing], [compliance] (keyledger.example.toml
    /// documents each; `keyledger config check FILE` checks one).
    #[arg(long, env = "KEYLEDGER_CONFIG")]
    config: Option<PathBuf>,
}

/// Booleans too follow flag > environment > file > default: `--public-tlog` (or `=true`)
/// and KEYLEDGER_PUBLIC_TLOG=false both beat the file (hence `Option<bool>`).
fn serve(args: ServeArgs, fips: Option<bool>) -> anyhow::Result<ExitCode> {
    let ServeArgs {
        data_dir,
        listen,
        region,
        account_id,
        workers,
        trail_origin,
        public_tlog,
        database,
        root_key_file,
        tls_cert,
        tls_key,
        allow_plain_http,
        config,
    } = args;
    let file = match &config {
        Some(path) => {
            let file = FileConfig::load(path).map_err(anyhow::Error::msg)?;
            file.validate()
                .map_err(|e| anyhow::anyhow!("config file {}: {e}", path.display()))?;
            file
        }
        None => FileConfig::default(),
    };
    let reports = file.report_settings();
    let quotas = file.quota_settings().map_err(anyhow::Error::msg)?;
    let regions = file.allowed_regions().map_err(anyhow::Error::msg)?;
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
    if let Some(list) = &regions {
        if !list.contains(&region) {
            bail!("region {region} is not one of the regions requests may be signed for");
        }
    }
    let account_id = match account_id.or(file.account_id) {
        None => None,
        Some(text) => match AccountId::parse(&text) {
            Some(a) => Some(a),
            None => bail!("invalid account id {text:?}: it must be 12 digits"),
        },
    };
    let trail_origin = trail_origin.or(file.trail_origin);
    let database = database.or(file.database);
    if let Some(url) = &database {
        if !keyledger::ledger::postgres::is_postgres_url(url) {
            bail!("--database must be a postgres:// or postgresql:// URL");
        }
    }
    let root_key_file = root_key_file.or(file.root_key_file);
    let fips = fips.or(file.fips).unwrap_or(false);
    let public_tlog = public_tlog.or(file.public_tlog).unwrap_or(false);
    let workers = workers
        .or(file.workers)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let allow_plain_http = allow_plain_http.or(file.allow_plain_http).unwrap_or(false);
    let certificate = match (tls_cert.or(file.tls_cert), tls_key.or(file.tls_key)) {
        (Some(cert), Some(key)) => Some(Arc::new(http::tls::CertificateReloader::load(
            &cert, &key, fips,
        )?)),
        (None, None) => None,
        _ => bail!("TLS needs both a certificate (--tls-cert) and its key (--tls-key)"),
    };

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
        refuse_plain_http_off_loopback(address, certificate.is_some(), allow_plain_http)?;
        let shared = Arc::new(http::Shared::new(http::Options {
            public_tlog,
            reports,
            quotas,
            regions,
        }));
        let (server, scheme) = match &certificate {
            Some(certificate) => {
                let config = http::tls::server_config(certificate.clone())?;
                reload_on_sighup(certificate.clone())?;
                tracing::info!(sha256 = %certificate.fingerprint(), "TLS certificate loaded");
                let server = http::serve_tls(listener, shared.clone(), workers, config)?;
                (server, "https")
            }
            None => (http::serve(listener, shared.clone(), workers)?, "http"),
        };
        let handle = server.handle();
        stop_on_signals(handle.clone())?;
        let running = tokio::spawn(server);
        println!("keyledger: data dir {}", data_dir.display());
        println!("listening on {scheme}://{address}");

        let settings = Settings {
            data_dir: data_dir.clone(),
            region,
            account_id,
            trail_origin,
            database: database.clone(),
            root_key_file,
            fips,
        };
        if let Some(url) = &database {
            println!("database {}", keyledger::ledger::postgres::redacted(url));
        }
        match bootstrap::open(&settings).await {
            Ok(opened) => {
                println!("account {}", opened.account_id);
                if keyledger::crypto::mode::fips() {
                    println!("FIPS mode: on (AWS-LC FIPS 140-3 module)");
                }
                println!("admin credentials: {}", opened.credentials_path.display());
                println!("ready");
                tokio::spawn(keyledger::app::scheduler::run_forever(
                    opened.service.clone(),
                ));
                let service = opened.service.clone();
                shared.set_ready(opened.service);
                // SIGINT/SIGTERM stop the server after the requests in flight are answered
                // (each one's events already durable); then the writer commits whatever is
                // still queued ahead of the checkpoint that covers the last event.
                running.await??;
                let last =
                    tokio::time::timeout(FINAL_CHECKPOINT_TIMEOUT, service.ledger.checkpoint_now());
                match last.await {
                    Ok(Ok(Some(c))) => {
                        tracing::info!(tree_size = c.size, "checkpoint at shutdown")
                    }
                    Ok(Ok(None)) => {}
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "no checkpoint at shutdown");
                        return Ok(ExitCode::FAILURE);
                    }
                    Err(_) => {
                        tracing::error!(
                            "no checkpoint at shutdown: the ledger did not answer within {}s",
                            FINAL_CHECKPOINT_TIMEOUT.as_secs()
                        );
                        return Ok(ExitCode::FAILURE);
                    }
                }
            }
            Err(e) => {
                handle.stop(false).await;
                return Err(anyhow::Error::new(e).context("cannot open the data dir"));
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// How long shutdown waits for the final checkpoint after the server stopped (itself bounded
/// by [`http::SHUTDOWN_TIMEOUT_SECONDS`]).
const FINAL_CHECKPOINT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// SIGINT or SIGTERM: stop accepting, let requests in flight finish (at most
/// [`http::SHUTDOWN_TIMEOUT_SECONDS`]); a second signal stops at once.
fn stop_on_signals(handle: actix_web::dev::ServerHandle) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    tokio::spawn(async move {
        let mut graceful = true;
        loop {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            if graceful {
                tracing::info!(
                    "stopping: finishing requests in flight (at most {}s)",
                    http::SHUTDOWN_TIMEOUT_SECONDS
                );
            } else {
                tracing::warn!("second signal: stopping now");
            }
            // Not awaited here: the stop completes when the server's own future does.
            let stopping = handle.stop(graceful);
            tokio::spawn(stopping);
            graceful = false;
        }
    });
    Ok(())
}

/// Plain HTTP only on loopback, unless the operator says otherwise: off the machine, the
/// plaintexts that Decrypt and GenerateDataKey answer (and every request's key ids and
/// encryption contexts) would cross the network in clear.
fn refuse_plain_http_off_loopback(
    address: std::net::SocketAddr,
    tls: bool,
    allow_plain_http: bool,
) -> anyhow::Result<()> {
    if tls || allow_plain_http || address.ip().to_canonical().is_loopback() {
        return Ok(());
    }
    bail!(
        "refusing to serve plain HTTP on {address}, which is not a loopback address: the \
         plaintexts of Decrypt and GenerateDataKey would cross the network in clear. Serve \
         HTTPS (--tls-cert and --tls-key), listen on 127.0.0.1, or pass --allow-plain-http \
         (behind a TLS-terminating proxy on a trusted network)"
    )
}

/// SIGHUP: read the certificate and key files again; new connections get what they hold
/// (a failed reload is logged and the certificate in use stays).
fn reload_on_sighup(certificate: Arc<http::tls::CertificateReloader>) -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    // Installed before the listening line is printed: from then on SIGHUP no longer ends
    // the process.
    let mut hangups = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            match certificate.reload() {
                Ok(()) => tracing::info!(
                    sha256 = %certificate.fingerprint(),
                    "SIGHUP: TLS certificate reloaded"
                ),
                Err(e) => {
                    tracing::error!(error = %e, "SIGHUP: TLS certificate not reloaded; the old one stays")
                }
            }
        }
    });
    Ok(())
}

fn create_account(
    account_id: Option<&str>,
    out: &Path,
    data_dir: PathBuf,
    endpoint: Option<&str>,
    credentials: Option<PathBuf>,
    database: Option<String>,
    root_key_file: Option<PathBuf>,
    fips: bool,
) -> anyhow::Result<ExitCode> {
    use zeroize::Zeroizing;
    if out.exists() {
        bail!(
            "{} exists; refusing to overwrite credentials",
            out.display()
        );
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (account, access_key_id, secret, region) = match endpoint {
        Some(endpoint) => {
            #[derive(serde::Deserialize)]
            struct Credentials {
                access_key_id: String,
                secret_access_key: String,
                region: String,
            }
            #[derive(serde::Deserialize)]
            struct Created {
                access_key_id: String,
                secret_access_key: String,
                account_id: String,
                region: String,
            }
            let path = credentials.unwrap_or_else(|| data_dir.join(bootstrap::CREDENTIALS_FILE));
            let text = Zeroizing::new(
                std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?,
            );
            let signer: Credentials = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a credentials file", path.display()))?;
            let signer_secret = Zeroizing::new(signer.secret_access_key);
            let body = serde_json::json!({ "AccountId": account_id }).to_string();
            let (status, answer) = runtime
                .block_on(http::admin_client::post_json(
                    endpoint,
                    "/v1/accounts",
                    body.as_bytes(),
                    &signer.access_key_id,
                    &signer_secret,
                    &signer.region,
                ))
                .map_err(anyhow::Error::msg)?;
            let answer = Zeroizing::new(answer);
            if status != 200 {
                bail!(
                    "{endpoint} answered {status}: {}",
                    String::from_utf8_lossy(&answer)
                );
            }
            let created: Created = serde_json::from_slice(&answer)
                .context("the server's answer is not a created account")?;
            let account = AccountId::parse(&created.account_id)
                .context("the server answered an invalid account id")?;
            let region =
                Region::parse(&created.region).context("the server answered an invalid region")?;
            let secret = Zeroizing::new(created.secret_access_key);
            (account, created.access_key_id, secret, region)
        }
        None => {
            let settings = Settings {
                data_dir: data_dir.clone(),
                region: Region::parse(DEFAULT_REGION).context("the default region")?,
                account_id: None,
                trail_origin: None,
                database,
                root_key_file,
                fips,
            };
            runtime.block_on(async {
                let opened = bootstrap::open(&settings)
                    .await
                    .context("cannot open the data dir")?;
                let created = opened
                    .service
                    .create_account_offline(account_id)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                // The new events get their checkpoint before the process ends.
                if let Err(e) = opened.service.ledger.checkpoint_now().await {
                    tracing::error!(error = %e, "no checkpoint after create-account");
                }
                let (account, access_key_id, secret) = created;
                anyhow::Ok((account, access_key_id, secret, settings.region.clone()))
            })?
        }
    };
    bootstrap::write_credentials(&(access_key_id, secret), &account, &region, out)?;
    println!("account {account}");
    println!("root credentials: {}", out.display());
    Ok(ExitCode::SUCCESS)
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

fn export(from: &str, to: &str, out: &Path, data_dir: PathBuf) -> anyhow::Result<ExitCode> {
    use keyledger::app::bootstrap::{ROOT_KEY_ENV, ROOT_KEY_FILE};
    use keyledger::crypto::root_key::RootKey;
    let parse = |flag: &str, text: &str| {
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .map_err(|e| anyhow::anyhow!("{flag} {text:?} is not an RFC 3339 time: {e}"))
    };
    let (from, to) = (parse("--from", from)?, parse("--to", to)?);
    let path = data_dir.join(LEDGER_FILE);
    if !path.exists() {
        bail!("{} does not exist", path.display());
    }
    let root = match RootKey::from_env(ROOT_KEY_ENV)? {
        Some(root) => root,
        None => {
            let file = data_dir.join(ROOT_KEY_FILE);
            if !file.exists() {
                bail!(
                    "no root key: {} is missing and {ROOT_KEY_ENV} is not set",
                    file.display()
                );
            }
            RootKey::load_or_create_file(&file)?.0
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let exported = runtime.block_on(async {
        let reader = SqliteLedger::open_read_only(&path).await?;
        keyledger::app::export::export(&reader, &root, from, to, out).await
    })?;
    println!(
        "exported {} records in {} log files with {} digests to {}",
        exported.records,
        exported.log_files,
        exported.digests,
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn report(command: ReportCommand) -> anyhow::Result<ExitCode> {
    use keyledger::app::{report_html, reports};
    use replay::billing::BillingMonth;
    let (ReportCommand::Billing { source, .. } | ReportCommand::Compliance { source, .. }) =
        &command;
    let settings = match &source.config {
        Some(path) => {
            let file = FileConfig::load(path).map_err(anyhow::Error::msg)?;
            file.validate()
                .map_err(|e| anyhow::anyhow!("config file {}: {e}", path.display()))?;
            file
        }
        None => FileConfig::default(),
    }
    .report_settings();
    let path = source
        .data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
        .join(LEDGER_FILE);
    if !path.exists() {
        bail!("{} does not exist", path.display());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let now = time::OffsetDateTime::now_utc();
    let text = runtime.block_on(async {
        let reader = SqliteLedger::open_read_only(&path).await?;
        anyhow::Ok(match command {
            ReportCommand::Billing {
                month,
                account,
                format,
                ..
            } => {
                let month = match month {
                    None => BillingMonth::of_time(now),
                    Some(m) => BillingMonth::parse(&m).map_err(anyhow::Error::msg)?,
                };
                if let Some(a) = &account {
                    if AccountId::parse(a).is_none() {
                        bail!("--account must be a 12-digit account id");
                    }
                }
                let report =
                    reports::billing(&reader, month, account.as_deref(), &settings.prices, now)
                        .await?;
                match format.as_str() {
                    "json" => report.to_json(),
                    "csv" => report.to_csv(),
                    "html" => report_html::billing_page(&report),
                    _ => bail!("--format must be json, csv or html"),
                }
            }
            ReportCommand::Compliance { as_of, format, .. } => {
                let as_of = match as_of {
                    None => None,
                    Some(t) => Some(
                        time::OffsetDateTime::parse(
                            &t,
                            &time::format_description::well_known::Rfc3339,
                        )
                        .map_err(|e| {
                            anyhow::anyhow!("--as-of {t:?} is not an RFC 3339 time: {e}")
                        })?,
                    ),
                };
                // The verifier key is the one the ledger's own TrailKeyCreated event names.
                let vkey = keyledger::app::evidence::ledger_vkey(&reader).await?;
                let report = reports::compliance(
                    &reader,
                    as_of.unwrap_or(now).unix_timestamp_nanos() as i64,
                    as_of.is_none(),
                    &settings.compliance,
                    vkey.as_deref(),
                )
                .await?;
                match format.as_str() {
                    "json" => report.to_json(),
                    "html" => report_html::compliance_page(&report),
                    _ => bail!("--format must be json or html"),
                }
            }
        })
    })?;
    print!("{text}");
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
            let bar = events_bar("rebuild")?;
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

/// A progress bar for an offline pass over the log, drawn only when stderr is a terminal.
fn events_bar(message: &'static str) -> anyhow::Result<indicatif::ProgressBar> {
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template(
            "{msg:>10} [{bar:40}] {pos}/{len} events {per_sec} {eta}",
        )?
        .progress_chars("=> "),
    );
    bar.set_message(message);
    Ok(bar)
}

/// `location`: the SQLite file, or a PostgreSQL URL.
fn verify(
    location: String,
    checkpoint: Option<PathBuf>,
    vkey: Option<String>,
) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let vkey = match vkey {
        // A verifier key has no '/' after its name… but a path does; accept either.
        Some(v) if std::path::Path::new(&v).is_file() => Some(std::fs::read_to_string(&v)?),
        other => other,
    };
    let options = replay::VerifyOptions {
        vkey: vkey.map(|v| v.trim().to_owned()),
        saved_checkpoint: match checkpoint {
            Some(file) => Some(
                std::fs::read(&file)
                    .map_err(|e| anyhow::anyhow!("checkpoint file {}: {e}", file.display()))?,
            ),
            None => None,
        },
    };
    let bar = events_bar("verify")?;
    let started = std::time::Instant::now();
    let result = runtime.block_on(replay::verify_location(
        &location,
        &options,
        &mut |done, total| {
            bar.set_length(total);
            bar.set_position(done);
        },
    ));
    bar.finish_and_clear();
    match result {
        Ok(verified) => {
            let seconds = started.elapsed().as_secs_f64();
            println!("{verified}");
            if options.saved_checkpoint.is_some() {
                println!("the ledger extends the saved checkpoint");
            }
            if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                eprintln!(
                    "{:.2}s, {:.0} events/s",
                    seconds,
                    verified.events as f64 / seconds.max(1e-9)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("verification failed: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// No core file and no ptrace by other processes of this user: the process holds the root
/// key and unsealed key material (`--allow-core-dumps` to debug).
fn forbid_core_dumps() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let none = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: setrlimit reads the struct passed by reference and nothing else.
        if unsafe { libc::setrlimit(libc::RLIMIT_CORE, &none) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_DUMPABLE takes one integer argument and touches no memory of ours.
        if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Take the root key's variable out of the environment (`root_key::take_from_env`), and
/// overwrite its value in the block the process started with: `/proc/<pid>/environ` shows
/// that block whatever `remove_var` does. Only while no other thread runs.
fn take_root_key_from_env() {
    let var = bootstrap::ROOT_KEY_ENV;
    let original = environ_entry(var);
    keyledger::crypto::root_key::take_from_env(var);
    #[cfg(unix)]
    if let Some(entry) = original {
        // SAFETY: `entry` points at a NUL-terminated "VAR=value" string of the initial
        // environment block, which stays mapped and writable for the life of the process;
        // only the value's bytes, before the NUL, are overwritten.
        unsafe {
            let len = libc::strlen(entry);
            let value = entry.add(var.len() + 1);
            std::ptr::write_bytes(value, 0, len - var.len() - 1);
        }
    }
    #[cfg(not(unix))]
    let _ = original;
}

/// The `VAR=value` string of `var` in the C environment, if set.
#[cfg(unix)]
fn environ_entry(var: &str) -> Option<*mut libc::c_char> {
    extern "C" {
        static mut environ: *mut *mut libc::c_char;
    }
    let prefix = format!("{var}=");
    // SAFETY: read before any thread exists; `environ` is a NULL-terminated array of
    // NUL-terminated strings.
    unsafe {
        let mut entry = environ;
        while !entry.is_null() && !(*entry).is_null() {
            let text = std::ffi::CStr::from_ptr(*entry);
            if text.to_bytes().starts_with(prefix.as_bytes()) {
                return Some(*entry);
            }
            entry = entry.add(1);
        }
    }
    None
}

#[cfg(not(unix))]
fn environ_entry(_var: &str) -> Option<()> {
    None
}
