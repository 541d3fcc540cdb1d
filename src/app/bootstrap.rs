//! Opening a data dir: root key, ledger, projections rebuilt from the log,
//! the writer started, and — on first start — the account and its bootstrap
//! admin access key, recorded as events.

use super::{lifecycle_event, Clock, Service, SystemClock};
use crate::crypto::keyring::Keyring;
use crate::crypto::root_key::{RootKey, RootKeyError, LABEL_ACCESS_KEY_SECRET};
use crate::crypto::secret::random_bytes;
use crate::domain::events::{
    AccessKeyCreated, AccountCreated, Actor, DomainEvent, Envelope, Sealed, UserCreated,
    UserPolicyPut,
};
use crate::domain::ids::{AccountId, Region};
use crate::ledger::postgres::PostgresLedger;
use crate::ledger::sqlite::{SqliteLedger, SqliteStore};
use crate::ledger::{AppendBatch, Ledger, LedgerStore, StoreError, StoredEvent};
use crate::projections::{read_models, Projections};
use base64::Engine as _;
use rand::Rng;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zeroize::Zeroizing;

pub const LEDGER_FILE: &str = "ledger.db";
pub const ROOT_KEY_FILE: &str = "root.key";
pub const CREDENTIALS_FILE: &str = "admin-credentials.json";
/// The environment variable the root key may come from instead of the key file.
pub const ROOT_KEY_ENV: &str = "KEYLEDGER_ROOT_KEY";
/// What the service writes in its data dir (the ledger's `-wal` and `-shm` besides).
const DATA_DIR_FILES: [&str; 4] = [
    LEDGER_FILE,
    ROOT_KEY_FILE,
    CREDENTIALS_FILE,
    "ledger.open-lock",
];

#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub region: Region,
    pub account_id: Option<AccountId>,
    /// The trail checkpoints' origin [default: `keyledger/<account id>`]; fixed at creation.
    pub trail_origin: Option<String>,
    /// A PostgreSQL URL: the ledger lives there, shared with other nodes, instead of in
    /// the data dir's SQLite file.
    pub database: Option<String>,
    /// The root key file [default: `root.key` in the data dir]; nodes sharing a database
    /// share it (or `KEYLEDGER_ROOT_KEY`).
    pub root_key_file: Option<PathBuf>,
    /// FIPS mode (`serve --fips`, decision 0015): every cryptographic operation through
    /// AWS-LC's FIPS 140-3 module. Fixed when the ledger is created; recorded in it.
    pub fips: bool,
}

impl Settings {
    /// A standard-mode SQLite ledger in `data_dir`, in `region`, everything else default.
    pub fn local(data_dir: PathBuf, region: Region) -> Settings {
        Settings {
            data_dir,
            region,
            account_id: None,
            trail_origin: None,
            database: None,
            root_key_file: None,
            fips: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("data dir {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    RootKey(#[from] RootKeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the data dir belongs to account {existing}, not {requested}")]
    AccountMismatch {
        existing: AccountId,
        requested: AccountId,
    },
    #[error("bootstrap could not be recorded: {0}")]
    Append(String),
    #[error("the root key does not open this ledger's secrets (wrong root key?)")]
    WrongRootKey,
    #[error("the trail: {0}")]
    Trail(String),
    #[error(
        "refusing to start on a broken ledger: {0} (run `keyledger verify` for the full check)"
    )]
    BrokenLedger(String),
    #[error("FIPS mode: {0}")]
    Fips(#[from] crate::crypto::mode::FipsUnavailable),
    #[error(
        "this ledger was created without FIPS mode and cannot be opened with --fips: its keys \
         are sealed with the standard algorithms, and a ledger is wholly one mode. Start \
         without --fips, or create a new ledger (a new data dir or database) with --fips"
    )]
    LedgerNotFips,
    #[error(
        "this ledger was created in FIPS mode and can only be opened in FIPS mode: start \
         keyledger with --fips (a build with `--features fips`)"
    )]
    LedgerIsFips,
    #[error("FIPS mode is already on in this process; a ledger without it cannot be opened here")]
    ProcessIsFips,
}

/// A ready service and where its admin credentials are.
pub struct Opened {
    pub service: Arc<Service>,
    pub credentials_path: PathBuf,
    pub account_id: AccountId,
}

/// Open `settings.data_dir` with its SQLite store, or the PostgreSQL database it names.
pub async fn open(settings: &Settings) -> Result<Opened, BootstrapError> {
    match &settings.database {
        None => open_with(settings, |store| store, Arc::new(SystemClock)).await,
        Some(url) => open_postgres(settings, url, Arc::new(SystemClock)).await,
    }
}

/// Open with the SQLite store wrapped by `wrap` (tests wrap it in one that fails on purpose).
pub async fn open_with<S: LedgerStore>(
    settings: &Settings,
    wrap: impl FnOnce(SqliteStore) -> S,
    clock: Arc<dyn Clock>,
) -> Result<Opened, BootstrapError> {
    choose_mode(settings)?;
    let keyring = prepare_data_dir(settings)?;
    let opened = SqliteLedger::open(&settings.data_dir.join(LEDGER_FILE), read_models()).await?;
    start(
        settings,
        keyring,
        wrap(opened.store),
        opened.reader,
        None,
        clock,
    )
    .await
}

/// Open on a PostgreSQL database other nodes may share. The opening lock is held until
/// this node is ready, so one node bootstraps and the others find what it made.
pub async fn open_postgres(
    settings: &Settings,
    url: &str,
    clock: Arc<dyn Clock>,
) -> Result<Opened, BootstrapError> {
    choose_mode(settings)?;
    let keyring = prepare_data_dir(settings)?;
    let mut opened = PostgresLedger::open(url, read_models()).await?;
    let opening = opened.opening.take();
    let started = start(
        settings,
        keyring,
        opened.store,
        opened.reader,
        Some(opened.head.position),
        clock,
    )
    .await;
    if let Some(conn) = opening {
        use sqlx::Connection as _;
        let _ = conn.close().await;
    }
    started
}

/// Turn FIPS mode on when asked, before any key or random byte is made: refused when the
/// module is missing or not in FIPS mode. The mode is the process's, for its lifetime.
fn choose_mode(settings: &Settings) -> Result<(), BootstrapError> {
    if settings.fips {
        crate::crypto::mode::enable_fips()?;
    } else if crate::crypto::mode::fips() {
        return Err(BootstrapError::ProcessIsFips);
    }
    Ok(())
}

/// The mode a ledger was created in, from its first `AccountCreated`; `None` for a ledger
/// with no account yet (this start creates it, in this process's mode).
fn recorded_fips_mode(lifecycle: &[StoredEvent]) -> Result<Option<bool>, BootstrapError> {
    // The bootstrap records the account first, so this stops at once on any real ledger.
    for stored in lifecycle {
        let envelope = Envelope::decode(&stored.data).map_err(|reason| {
            BootstrapError::Store(StoreError::Corrupt {
                position: stored.position,
                reason,
            })
        })?;
        if let Some(DomainEvent::AccountCreated(created)) = envelope.lifecycle() {
            return Ok(Some(created.fips_mode));
        }
    }
    Ok(None)
}

/// The data dir (owner only) and the keyring on the root key.
fn prepare_data_dir(settings: &Settings) -> Result<Arc<Keyring>, BootstrapError> {
    let dir = &settings.data_dir;
    let io = |source| BootstrapError::Io {
        path: dir.display().to_string(),
        source,
    };
    // The data dir holds the root key, the admin secret and the trail: owner only.
    crate::ledger::files::private_dir(dir, &DATA_DIR_FILES).map_err(io)?;
    let root = match RootKey::from_env(ROOT_KEY_ENV)? {
        Some(root) => root,
        None => {
            let file = settings
                .root_key_file
                .clone()
                .unwrap_or_else(|| dir.join(ROOT_KEY_FILE));
            RootKey::load_or_create_file(&file)?.0
        }
    };
    Ok(Arc::new(Keyring::new(root)))
}

/// Projections rebuilt, the writer started, the account bootstrapped (first start only).
/// `head`: replay only up to it (the writer takes in the rest as other nodes' appends).
async fn start<S: LedgerStore>(
    settings: &Settings,
    keyring: Arc<Keyring>,
    store: S,
    reader: crate::ledger::LedgerReader,
    head: Option<u64>,
    clock: Arc<dyn Clock>,
) -> Result<Opened, BootstrapError> {
    let dir = &settings.data_dir;
    // Rebuild every in-memory projection from the log before anything is served.
    let projections = Arc::new(Projections::new(keyring.clone()));
    for (key_id, wrapped) in reader.shredding_keys().await? {
        keyring.add_wrapped_shredding_key(key_id, wrapped);
    }
    let mut lifecycle = reader.read_lifecycle(0).await?;
    if let Some(head) = head {
        lifecycle.retain(|e| e.position <= head);
    }
    // No mixed ledgers: nothing sealed in one mode is ever opened in the other.
    match recorded_fips_mode(&lifecycle)? {
        Some(false) if crate::crypto::mode::fips() => return Err(BootstrapError::LedgerNotFips),
        Some(true) if !crate::crypto::mode::fips() => return Err(BootstrapError::LedgerIsFips),
        _ => {}
    }
    projections.replay(&lifecycle)?;
    // Nothing is served, nor appended, on a ledger whose evidence does not hold.
    let checked =
        super::evidence::check_ledger(&reader, projections.trail_keys.current().as_deref())
            .await
            .map_err(BootstrapError::BrokenLedger)?;
    tracing::info!(
        checkpointed = checked.checkpointed,
        tail = checked.tail,
        "ledger checked since its newest checkpoint"
    );

    let ledger = Ledger::start(store, projections.clone());
    let service = Arc::new(Service {
        ledger,
        reader: reader.clone(),
        projections,
        keyring,
        clock,
        default_region: settings.region.clone(),
        refused_unaudited: Default::default(),
        quotas: Default::default(),
    });

    let account_id = match service.projections.credentials.first_account() {
        Some(existing) => {
            if let Some(requested) = &settings.account_id {
                if *requested != existing {
                    return Err(BootstrapError::AccountMismatch {
                        existing,
                        requested: requested.clone(),
                    });
                }
            }
            existing
        }
        None => bootstrap_account(&service, settings.account_id.clone()).await?,
    };
    upgrade_admin_user(&service, &account_id).await?;
    let credentials_path = dir.join(CREDENTIALS_FILE);
    // Unsealing an access key's secret proves the root key is this ledger's, before anything
    // is served.
    prove_root_key(&service, &account_id)?;
    super::evidence::start_signing(&service, &account_id, settings.trail_origin.as_deref()).await?;
    if !credentials_path.exists() {
        // The admin's newest active key: never a deactivated one (it may have been rotated).
        match unseal_admin_secret(&service, &account_id)? {
            Some(admin_secret) => write_credentials(
                &admin_secret,
                &account_id,
                &settings.region,
                &credentials_path,
            )?,
            None => tracing::warn!(
                path = %credentials_path.display(),
                "the bootstrap admin has no active access key; no credentials file written"
            ),
        }
    }
    Ok(Opened {
        service,
        credentials_path,
        account_id,
    })
}

pub(crate) fn random_account_id() -> AccountId {
    let mut rng = rand::rngs::OsRng;
    let digits: String = (0..12)
        .map(|i| char::from(b'0' + rng.gen_range(if i == 0 { 1 } else { 0 }..10)))
        .collect();
    AccountId::parse(&digits).expect("twelve ASCII digits are an account id")
}

/// `prefix` and `len` characters of IAM's base-32 alphabet: `AKIA…` access key ids (16),
/// `ASIA…` session key ids (16), `AIDA…` user ids and `AROA…` role ids (17).
pub(crate) fn random_iam_id(prefix: &str, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut rng = rand::rngs::OsRng;
    let suffix: String = (0..len)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect();
    format!("{prefix}{suffix}")
}

fn random_access_key_id() -> String {
    random_iam_id("AKIA", 16)
}

/// A new secret access key: 30 random bytes → 40 base64 characters, AWS's length.
pub(crate) fn random_secret() -> Zeroizing<String> {
    Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&*random_bytes(30)))
}

/// The bootstrap admin: a user with `AdministratorAccess`.
pub const ADMIN_USER: &str = "admin";
pub const ADMIN_POLICY_NAME: &str = "AdministratorAccess";
pub const ADMIN_POLICY_DOCUMENT: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

/// The service itself, as the actor of what bootstrap records.
fn service_actor() -> Actor {
    Actor {
        principal_arn: Some("keyledger".into()),
        ..Actor::default()
    }
}

/// The bootstrap admin user and its `AdministratorAccess` policy.
fn admin_user_events(account_id: &AccountId, now: time::OffsetDateTime) -> [DomainEvent; 2] {
    [
        DomainEvent::UserCreated(UserCreated {
            account_id: account_id.clone(),
            user_name: ADMIN_USER.into(),
            user_id: random_iam_id("AIDA", 17),
            arn: format!("arn:aws:iam::{account_id}:user/{ADMIN_USER}"),
            path: "/".into(),
            create_date: now,
        }),
        DomainEvent::UserPolicyPut(UserPolicyPut {
            account_id: account_id.clone(),
            user_name: ADMIN_USER.into(),
            policy_name: ADMIN_POLICY_NAME.into(),
            policy_document: ADMIN_POLICY_DOCUMENT.into(),
        }),
    ]
}

/// A ledger bootstrapped before users were events has the admin's access key but no admin
/// user: record the user and its policy once, so the admin keeps its permissions.
async fn upgrade_admin_user(
    service: &Service,
    account_id: &AccountId,
) -> Result<(), BootstrapError> {
    let credentials = &service.projections.credentials;
    if credentials.user(account_id, ADMIN_USER).is_some()
        || credentials
            .access_keys_of(account_id, ADMIN_USER)
            .is_empty()
    {
        return Ok(());
    }
    let version = credentials.account_version(account_id);
    let now = service.clock.now();
    let request_id = uuid::Uuid::new_v4().to_string();
    let actor = service_actor();
    let batch = AppendBatch {
        events: admin_user_events(account_id, now)
            .iter()
            .zip(version + 1..)
            .map(|(event, version)| {
                lifecycle_event(&request_id, "Bootstrap", &actor, now, event, version)
            })
            .collect(),
        ..AppendBatch::default()
    };
    match service.ledger.append(batch).await {
        Ok(_) => {
            tracing::info!(%account_id, "recorded the bootstrap admin user and its AdministratorAccess policy");
            Ok(())
        }
        // Another node recorded it first (its events reach this node through the tail).
        Err(crate::ledger::AppendError::Conflict { .. }) => Ok(()),
        Err(e) => Err(BootstrapError::Append(e.to_string())),
    }
}

async fn bootstrap_account(
    service: &Service,
    account_id: Option<AccountId>,
) -> Result<AccountId, BootstrapError> {
    let account_id = account_id.unwrap_or_else(random_account_id);
    let access_key_id = random_access_key_id();
    let secret = random_secret();
    let sealed_secret = service.keyring.root().wrap(
        LABEL_ACCESS_KEY_SECRET,
        access_key_id.as_bytes(),
        secret.as_bytes(),
    );
    let actor = service_actor();
    let now = service.clock.now();
    let request_id = uuid::Uuid::new_v4().to_string();
    let [user, policy] = admin_user_events(&account_id, now);
    let events = [
        DomainEvent::AccountCreated(AccountCreated {
            account_id: account_id.clone(),
            fips_mode: crate::crypto::mode::fips(),
        }),
        user,
        policy,
        DomainEvent::AccessKeyCreated(AccessKeyCreated {
            access_key_id,
            account_id: account_id.clone(),
            principal_arn: format!("arn:aws:iam::{account_id}:user/{ADMIN_USER}"),
            user_name: ADMIN_USER.into(),
            sealed_secret: Sealed(sealed_secret),
        }),
    ];
    let batch = AppendBatch {
        events: events
            .iter()
            .zip(1..)
            .map(|(event, version)| {
                lifecycle_event(&request_id, "Bootstrap", &actor, now, event, version)
            })
            .collect(),
        ..AppendBatch::default()
    };
    service
        .ledger
        .append(batch)
        .await
        .map_err(|e| BootstrapError::Append(e.to_string()))?;
    Ok(account_id)
}

/// Unseal one of the account's access key secrets: a wrong root key fails here, before
/// anything is served.
fn prove_root_key(service: &Service, account_id: &AccountId) -> Result<(), BootstrapError> {
    let Some(key) = service.projections.credentials.any_access_key(account_id) else {
        // Every key was deleted: the trail's signer key is the proof then.
        return Ok(());
    };
    service
        .keyring
        .root()
        .unwrap(
            LABEL_ACCESS_KEY_SECRET,
            key.access_key_id.as_bytes(),
            &key.sealed_secret.0,
        )
        .map(drop)
        .map_err(|_| BootstrapError::WrongRootKey)
}

/// The bootstrap admin's newest active access key id and secret, unsealed with the root key.
fn unseal_admin_secret(
    service: &Service,
    account_id: &AccountId,
) -> Result<Option<(String, Zeroizing<String>)>, BootstrapError> {
    let Some(admin) = service
        .projections
        .credentials
        .admin_access_key(account_id, ADMIN_USER)
    else {
        return Ok(None);
    };
    let secret = service
        .keyring
        .root()
        .unwrap(
            LABEL_ACCESS_KEY_SECRET,
            admin.access_key_id.as_bytes(),
            &admin.sealed_secret.0,
        )
        .map_err(|_| BootstrapError::WrongRootKey)?;
    let secret = String::from_utf8(secret.to_vec()).map_err(|_| BootstrapError::WrongRootKey)?;
    Ok(Some((admin.access_key_id.clone(), Zeroizing::new(secret))))
}

/// Write the bootstrap admin's credentials (mode 0600).
pub fn write_credentials(
    (access_key_id, secret): &(String, Zeroizing<String>),
    account_id: &AccountId,
    region: &Region,
    path: &Path,
) -> Result<(), BootstrapError> {
    let json = Zeroizing::new(
        serde_json::to_string_pretty(&serde_json::json!({
            "access_key_id": access_key_id,
            "secret_access_key": secret.as_str(),
            "account_id": account_id.as_str(),
            "region": region.as_str(),
        }))
        .expect("a JSON object of strings serializes"),
    );
    let io = |source| BootstrapError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io)?;
    file.write_all(json.as_bytes()).map_err(io)?;
    file.write_all(b"\n").map_err(io)?;
    file.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::memory::MemoryDatabase;

    fn settings(dir: &Path) -> Settings {
        Settings::local(
            dir.to_owned(),
            Region::parse("us-east-1").expect("a region"),
        )
    }

    fn event_types(db: &MemoryDatabase) -> Vec<String> {
        let crate::ledger::LedgerReader::Memory(reader) = db.reader() else {
            unreachable!("a memory database reads through a memory reader")
        };
        reader
            .read_all(0, usize::MAX, true)
            .iter()
            .map(|e| Envelope::decode(&e.data).unwrap().event_type().to_owned())
            .collect()
    }

    use crate::domain::events::Envelope;

    #[tokio::test]
    async fn a_fresh_ledger_records_the_admin_user_and_policy_before_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let settings = settings(dir.path());
        let db = MemoryDatabase::default();
        let keyring = prepare_data_dir(&settings).unwrap();
        let opened = start(
            &settings,
            keyring,
            db.store(),
            db.reader(),
            None,
            Arc::new(SystemClock),
        )
        .await
        .unwrap();
        assert_eq!(
            &event_types(&db)[..4],
            [
                "AccountCreated",
                "UserCreated",
                "UserPolicyPut",
                "AccessKeyCreated"
            ]
        );
        let admin = opened
            .service
            .projections
            .credentials
            .user(&opened.account_id, ADMIN_USER)
            .expect("the admin user");
        assert!(admin.user_id.starts_with("AIDA") && admin.user_id.len() == 21);
        assert_eq!(
            admin.policies[ADMIN_POLICY_NAME].document,
            ADMIN_POLICY_DOCUMENT
        );
        assert!(opened.credentials_path.exists());
    }

    /// A ledger whose first account was created in FIPS mode never opens outside it, and
    /// nothing is unsealed or appended on the way to the refusal.
    #[tokio::test]
    async fn a_fips_ledger_refuses_to_open_in_standard_mode() {
        let dir = tempfile::tempdir().unwrap();
        let settings = settings(dir.path());
        let db = MemoryDatabase::default();
        let keyring = prepare_data_dir(&settings).unwrap();
        let created = DomainEvent::AccountCreated(AccountCreated {
            account_id: AccountId::parse("111122223333").unwrap(),
            fips_mode: true,
        });
        let ledger =
            crate::ledger::Ledger::start(db.store(), Arc::new(Projections::new(keyring.clone())));
        let now = time::OffsetDateTime::now_utc();
        let batch = AppendBatch {
            events: vec![lifecycle_event(
                "r",
                "Bootstrap",
                &service_actor(),
                now,
                &created,
                1,
            )],
            ..AppendBatch::default()
        };
        ledger.append(batch).await.unwrap();
        drop(ledger);
        let refused = start(
            &settings,
            keyring,
            db.store(),
            db.reader(),
            None,
            Arc::new(SystemClock),
        )
        .await;
        assert!(
            matches!(refused, Err(BootstrapError::LedgerIsFips)),
            "{:?}",
            refused.err()
        );
        assert_eq!(event_types(&db), ["AccountCreated"]);
        // A ledger from before FIPS mode (no field) is a standard one.
        let old: AccountCreated = serde_json::from_str(r#"{"account_id":"111122223333"}"#).unwrap();
        assert!(!old.fips_mode);
        assert_eq!(
            serde_json::to_string(&old).unwrap(),
            r#"{"account_id":"111122223333"}"#,
            "a standard account's bytes are what they were before FIPS mode"
        );
    }

    #[tokio::test]
    async fn a_ledger_from_before_users_gets_its_admin_user_once() {
        let dir = tempfile::tempdir().unwrap();
        let settings = settings(dir.path());
        let db = MemoryDatabase::default();
        let keyring = prepare_data_dir(&settings).unwrap();
        // What bootstrap recorded before users were events: the account and a key, no user.
        let account_id = AccountId::parse("111122223333").unwrap();
        let access_key_id = random_access_key_id();
        let sealed = keyring.root().wrap(
            LABEL_ACCESS_KEY_SECRET,
            access_key_id.as_bytes(),
            random_secret().as_bytes(),
        );
        let old = [
            DomainEvent::AccountCreated(AccountCreated {
                account_id: account_id.clone(),
                fips_mode: false,
            }),
            DomainEvent::AccessKeyCreated(AccessKeyCreated {
                access_key_id,
                account_id: account_id.clone(),
                principal_arn: format!("arn:aws:iam::{account_id}:user/{ADMIN_USER}"),
                user_name: ADMIN_USER.into(),
                sealed_secret: Sealed(sealed),
            }),
        ];
        let ledger =
            crate::ledger::Ledger::start(db.store(), Arc::new(Projections::new(keyring.clone())));
        let now = time::OffsetDateTime::now_utc();
        let batch = AppendBatch {
            events: old
                .iter()
                .zip(1..)
                .map(|(e, v)| lifecycle_event("r", "Bootstrap", &service_actor(), now, e, v))
                .collect(),
            ..AppendBatch::default()
        };
        ledger.append(batch).await.unwrap();
        drop(ledger);

        let open = || async {
            start(
                &settings,
                keyring.clone(),
                db.store(),
                db.reader(),
                None,
                Arc::new(SystemClock),
            )
            .await
            .unwrap()
        };
        let opened = open().await;
        let types = event_types(&db);
        assert_eq!(
            &types[..4],
            [
                "AccountCreated",
                "AccessKeyCreated",
                "UserCreated",
                "UserPolicyPut"
            ]
        );
        let credentials = &opened.service.projections.credentials;
        let admin = credentials
            .user(&account_id, ADMIN_USER)
            .expect("the admin user");
        assert_eq!(admin.arn, format!("arn:aws:iam::{account_id}:user/admin"));
        assert!(admin.policies.contains_key(ADMIN_POLICY_NAME));
        assert_eq!(credentials.account_version(&account_id), 4);
        drop(opened);
        // A second open appends nothing more of the kind.
        let reopened = open().await;
        let again = event_types(&db);
        assert_eq!(
            again.iter().filter(|t| *t == "UserCreated").count(),
            1,
            "{again:?}"
        );
        drop(reopened);
    }
}
