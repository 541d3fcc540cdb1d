//! Request quotas (issue 13): per account and Region, per operation class, a token bucket
//! whose rate is AWS's published quota (AWS KMS Developer Guide, "Request quotas",
//! `requests-per-second.html`; us-east-1's figure where it varies by Region) and whose
//! burst is one second of that rate (at least one request). Over quota a call is
//! `ThrottlingException` (HTTP 400), recorded like every failed call and counted at
//! `/metrics` (`keyledger_throttled_requests_total{class}`).
//!
//! Failed attempts that never became a caller (bad signature, unknown access key, …) share
//! a small bucket per source address (an IPv6 /64 is one source). Over it they are
//! answered `ThrottlingException`; the first throttled attempt after a granted one is
//! recorded, the rest are only counted (`keyledger_throttled_unrecorded_total`), so one
//! source puts at most about twice its rate of events into the ledger (decision 0018).
//!
//! The hot path is one lock of one of [`SHARDS`] maps, found by the account id without
//! allocating; a bucket is two numbers.

use crate::domain::ids::{AccountId, Region};
use crate::domain::key::KeySpec;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

/// AWS's message for a throttled KMS call (the Developer Guide's "Throttling" example).
pub const THROTTLED: &str =
    "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.";

/// Failed unauthenticated attempts per second per source address [ours: AWS publishes none].
pub const DEFAULT_UNAUTHENTICATED_PER_SOURCE: f64 = 20.0;

/// The config key of the unauthenticated bucket (and its `/metrics` class).
pub const UNAUTHENTICATED: &str = "unauthenticated";

/// Every class, named as the `[quotas]` table and `/metrics` name it, with AWS's default
/// rate (requests per second; `None`: AWS publishes none, so no quota unless configured).
/// The cryptographic classes are shared by the operations on keys of their type; every
/// other class is one operation's own quota.
pub const CLASSES: &[(&str, Option<f64>)] = &[
    // "Cryptographic operations (symmetric) request rate": Decrypt, Encrypt,
    // GenerateDataKey(WithoutPlaintext), GenerateMac, GenerateRandom, ReEncrypt, VerifyMac;
    // 10,000, 20,000 or, in us-east-1, us-west-2 and eu-west-1, 100,000 (shared).
    ("symmetric", Some(100_000.0)),
    // "Cryptographic operations (RSA) request rate": Decrypt, Encrypt, ReEncrypt, Sign, Verify.
    ("rsa", Some(1_000.0)),
    // "Cryptographic operations (ECC and SM2) request rate": DeriveSharedSecret, Sign, Verify.
    ("ecc", Some(1_000.0)),
    // "Cryptographic operations (ML-DSA) request rate": Sign, Verify.
    ("ml_dsa", Some(1_000.0)),
    // Encapsulate and Decapsulate with ML-KEM keys: the guide lists no ML-KEM figure, so the
    // ML-DSA one (keyledger's choice; configurable).
    ("ml_kem", Some(1_000.0)),
    // "GenerateDataKeyPair (<spec>) request rate", with and without plaintext.
    ("key_pair_ecc_nist_p256", Some(100.0)),
    ("key_pair_ecc_nist_p384", Some(100.0)),
    ("key_pair_ecc_nist_p521", Some(100.0)),
    ("key_pair_ecc_secg_p256k1", Some(100.0)),
    ("key_pair_ecc_nist_edwards25519", Some(100.0)),
    ("key_pair_rsa_2048", Some(20.0)),
    ("key_pair_rsa_3072", Some(4.0)),
    ("key_pair_rsa_4096", Some(1.0)),
    ("key_pair_sm2", Some(25.0)),
    // "<Operation> request rate".
    ("CancelKeyDeletion", Some(5.0)),
    ("ConnectCustomKeyStore", Some(5.0)),
    ("CreateAlias", Some(5.0)),
    ("CreateCustomKeyStore", Some(5.0)),
    ("CreateGrant", Some(50.0)),
    ("CreateKey", Some(5.0)),
    ("DeleteAlias", Some(15.0)),
    ("DeleteCustomKeyStore", Some(5.0)),
    ("DeleteImportedKeyMaterial", Some(15.0)),
    ("DescribeCustomKeyStores", Some(5.0)),
    ("DescribeKey", Some(2_000.0)),
    ("DisableKey", Some(5.0)),
    ("DisableKeyRotation", Some(5.0)),
    ("DisconnectCustomKeyStore", Some(5.0)),
    ("EnableKey", Some(5.0)),
    ("EnableKeyRotation", Some(15.0)),
    ("GetKeyLastUsage", Some(5.0)),
    ("GetKeyPolicy", Some(1_000.0)),
    ("GetKeyRotationStatus", Some(1_000.0)),
    ("GetParametersForImport", Some(1.0)),
    ("GetPublicKey", Some(2_000.0)),
    ("ImportKeyMaterial", Some(15.0)),
    ("ListAliases", Some(500.0)),
    ("ListGrants", Some(100.0)),
    ("ListKeyPolicies", Some(100.0)),
    ("ListKeyRotations", Some(100.0)),
    ("ListKeys", Some(500.0)),
    ("ListResourceTags", Some(2_000.0)),
    ("ListRetirableGrants", Some(100.0)),
    ("PutKeyPolicy", Some(15.0)),
    ("ReplicateKey", Some(5.0)),
    ("RetireGrant", Some(50.0)),
    ("RevokeGrant", Some(50.0)),
    ("RotateKeyOnDemand", Some(5.0)),
    ("ScheduleKeyDeletion", Some(15.0)),
    ("TagResource", Some(10.0)),
    ("UntagResource", Some(5.0)),
    ("UpdateAlias", Some(5.0)),
    ("UpdateCustomKeyStore", Some(5.0)),
    ("UpdateKeyDescription", Some(5.0)),
    ("UpdatePrimaryRegion", Some(5.0)),
    // keyledger's own operations on the KMS endpoint: no AWS figure, no default quota.
    (super::history::KEY_AS_OF, None),
    (super::history::KEY_HISTORY, None),
    (super::trail_query::LIST_TRAIL_EVENTS, None),
    (super::trail_query::LOOKUP_EVENTS, None),
];

const N: usize = CLASSES.len();

/// Shards of the bucket maps (a power of two).
pub const SHARDS: usize = 16;
/// Regions tracked per account; a caller naming more shares the last one's buckets.
const MAX_REGIONS_PER_ACCOUNT: usize = 16;
/// Source addresses tracked per shard; over it idle ones are forgotten, then new ones
/// share one bucket per shard.
const MAX_SOURCES_PER_SHARD: usize = 4096;

/// One class: an index into [`CLASSES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Class(u8);

impl Class {
    pub fn named(name: &str) -> Option<Class> {
        CLASSES
            .iter()
            .position(|(n, _)| *n == name)
            .map(|i| Class(i as u8))
    }

    pub fn name(self) -> &'static str {
        CLASSES[self.0 as usize].0
    }

    pub const SYMMETRIC: Class = Class(0);

    /// The shared class of cryptographic operations with a key of `spec`.
    pub fn of_key(spec: KeySpec) -> Class {
        use KeySpec::*;
        Class(match spec {
            SymmetricDefault | Hmac224 | Hmac256 | Hmac384 | Hmac512 => 0,
            Rsa2048 | Rsa3072 | Rsa4096 => 1,
            EccNistP256 | EccNistP384 | EccNistP521 | EccSecgP256k1 | EccNistEdwards25519 | Sm2
            | X25519 => 2,
            MlDsa44 | MlDsa65 | MlDsa87 => 3,
            MlKem512 | MlKem768 | MlKem1024 => 4,
        })
    }

    /// GenerateDataKeyPair's class for the `KeyPairSpec` it asks for (a valid one).
    pub fn of_key_pair(spec: &str) -> Option<Class> {
        let name = match spec {
            "ECC_NIST_P256" => "key_pair_ecc_nist_p256",
            "ECC_NIST_P384" => "key_pair_ecc_nist_p384",
            "ECC_NIST_P521" => "key_pair_ecc_nist_p521",
            "ECC_SECG_P256K1" => "key_pair_ecc_secg_p256k1",
            "ECC_NIST_EDWARDS25519" => "key_pair_ecc_nist_edwards25519",
            "RSA_2048" => "key_pair_rsa_2048",
            "RSA_3072" => "key_pair_rsa_3072",
            "RSA_4096" => "key_pair_rsa_4096",
            "SM2" => "key_pair_sm2",
            _ => return None,
        };
        Class::named(name)
    }
}

/// How an operation is charged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Charge {
    /// At dispatch, to its own class (or the symmetric class: GenerateRandom).
    Now(Class),
    /// Once its key is found, to the shared class of the key's type.
    ByKey,
    /// Once its `KeyPairSpec` is read (GenerateDataKeyPair).
    ByKeyPair,
    /// Never.
    Free,
}

/// The cryptographic operations whose class is their key's type.
const BY_KEY: &[&str] = &[
    "Decapsulate",
    "Decrypt",
    "DeriveSharedSecret",
    "Encapsulate",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "ReEncrypt",
    "Sign",
    "Verify",
    "VerifyMac",
];

/// How `operation` is charged.
pub fn charge_of(operation: &str) -> Charge {
    match operation {
        "GenerateRandom" => Charge::Now(Class::SYMMETRIC),
        "GenerateDataKeyPair" | "GenerateDataKeyPairWithoutPlaintext" => Charge::ByKeyPair,
        op if BY_KEY.contains(&op) => Charge::ByKey,
        op => Class::named(op).map_or(Charge::Free, Charge::Now),
    }
}

/// The `[quotas]` table: `enabled`, `unauthenticated` and any class → requests per second
/// (`false`: no quota for that class).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(try_from = "BTreeMap<String, toml::Value>")]
pub struct QuotaSettings {
    pub enabled: bool,
    /// Failed unauthenticated attempts per second per source address; `None`: no bound.
    pub unauthenticated: Option<f64>,
    /// Per class: its rate; `None`: no quota.
    pub rates: Vec<Option<f64>>,
}

/// Every rate is finite and positive (parsed so), never NaN: equality is total.
impl Eq for QuotaSettings {}

impl Default for QuotaSettings {
    /// AWS's quotas, on.
    fn default() -> QuotaSettings {
        QuotaSettings {
            enabled: true,
            unauthenticated: Some(DEFAULT_UNAUTHENTICATED_PER_SOURCE),
            rates: CLASSES.iter().map(|(_, rate)| *rate).collect(),
        }
    }
}

impl QuotaSettings {
    /// No quota at all.
    pub fn off() -> QuotaSettings {
        QuotaSettings {
            enabled: false,
            ..QuotaSettings::default()
        }
    }

    /// The rate of a class, if it has a quota.
    pub fn rate(&self, class: Class) -> Option<f64> {
        self.rates.get(class.0 as usize).copied().flatten()
    }
}

fn rate_value(key: &str, value: &toml::Value) -> Result<Option<f64>, String> {
    let rate = match value {
        toml::Value::Boolean(false) => return Ok(None),
        toml::Value::Integer(i) => *i as f64,
        toml::Value::Float(f) => *f,
        _ => {
            return Err(format!(
                "[quotas] {key}: a number of requests per second, or false for no quota"
            ))
        }
    };
    if !(rate.is_finite() && rate > 0.0) {
        return Err(format!(
            "[quotas] {key}: {rate} is not a positive number of requests per second (false turns the quota off)"
        ));
    }
    Ok(Some(rate))
}

impl TryFrom<BTreeMap<String, toml::Value>> for QuotaSettings {
    type Error = String;

    fn try_from(table: BTreeMap<String, toml::Value>) -> Result<QuotaSettings, String> {
        let mut settings = QuotaSettings::default();
        for (key, value) in &table {
            match key.as_str() {
                "enabled" => {
                    settings.enabled = value
                        .as_bool()
                        .ok_or_else(|| "[quotas] enabled: true or false".to_owned())?
                }
                UNAUTHENTICATED => settings.unauthenticated = rate_value(key, value)?,
                class => {
                    let Some(class) = Class::named(class) else {
                        return Err(format!(
                            "[quotas] unknown key `{class}`: expected enabled, {UNAUTHENTICATED} or a class ({})",
                            CLASSES.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                        ));
                    };
                    settings.rates[class.0 as usize] = rate_value(key, value)?;
                }
            }
        }
        Ok(settings)
    }
}

/// A token bucket: `tokens` as of `last`.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// A rate and its burst (one second of the rate, at least one request).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Rate {
    per_second: f64,
    burst: f64,
}

impl Rate {
    fn new(per_second: f64) -> Rate {
        Rate {
            per_second,
            burst: per_second.max(1.0),
        }
    }

    /// This node's share when `nodes` serve the account (never less than one request in
    /// the bucket, so a call can always get through eventually).
    fn shared(self, nodes: u32) -> Rate {
        if nodes <= 1 {
            return self;
        }
        Rate::new(self.per_second / f64::from(nodes))
    }
}

impl Bucket {
    fn full(rate: Rate, now: Instant) -> Bucket {
        Bucket {
            tokens: rate.burst,
            last: now,
        }
    }

    fn refill(&mut self, rate: Rate, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate.per_second).min(rate.burst);
        self.last = now;
    }

    /// Take one request's token, if there is one.
    fn take(&mut self, rate: Rate, now: Instant) -> bool {
        self.refill(rate, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn idle(&self, rate: Rate, now: Instant) -> bool {
        let mut probe = *self;
        probe.refill(rate, now);
        probe.tokens >= rate.burst
    }
}

/// One account's buckets, per Region it called (lazily full).
type AccountBuckets = Vec<(Region, Box<[Option<Bucket>; N]>)>;

/// A source address's bucket, and whether its current throttled run was recorded.
#[derive(Clone, Copy, Debug)]
struct SourceBucket {
    bucket: Bucket,
    noted: bool,
}

#[derive(Default)]
struct SourceShard {
    sources: HashMap<u128, SourceBucket>,
    /// Shared by the sources that found the shard full.
    overflow: Option<SourceBucket>,
    /// When idle sources were last forgotten (at most once a second: it reads them all).
    swept: Option<Instant>,
}

/// What becomes of a failed unauthenticated attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unauthenticated {
    /// Within its source's bucket: answered and recorded as it is.
    Allowed,
    /// Over it: `ThrottlingException`; recorded only when `record`.
    Throttled { record: bool },
}

/// The configured rates (read on every call; set once, when the service is ready).
#[derive(Debug)]
struct Table {
    enabled: bool,
    rates: [Option<Rate>; N],
    unauthenticated: Option<Rate>,
}

impl Table {
    fn from_settings(settings: &QuotaSettings) -> Table {
        let mut rates = [None; N];
        for (i, rate) in rates.iter_mut().enumerate() {
            *rate = settings.rates.get(i).copied().flatten().map(Rate::new);
        }
        Table {
            enabled: settings.enabled,
            rates,
            unauthenticated: settings.unauthenticated.map(Rate::new),
        }
    }
}

/// Every account's buckets, every source's, and the throttled counts.
pub struct Quotas {
    table: OnceLock<Table>,
    accounts: [Mutex<HashMap<String, AccountBuckets>>; SHARDS],
    sources: [Mutex<SourceShard>; SHARDS],
    throttled: [AtomicU64; N],
    throttled_unauthenticated: AtomicU64,
    unrecorded: AtomicU64,
    /// The nodes serving the ledger: each takes 1/n of every account quota.
    nodes: AtomicU32,
}

impl Default for Quotas {
    fn default() -> Quotas {
        Quotas {
            table: OnceLock::new(),
            accounts: std::array::from_fn(|_| Mutex::default()),
            sources: std::array::from_fn(|_| Mutex::default()),
            throttled: std::array::from_fn(|_| AtomicU64::new(0)),
            throttled_unauthenticated: AtomicU64::new(0),
            unrecorded: AtomicU64::new(0),
            nodes: AtomicU32::new(1),
        }
    }
}

/// FNV-1a: a cheap, allocation-free spread of short keys over the shards (not a defence:
/// a shard only shares a lock, never a bucket).
fn shard_of(bytes: &[u8]) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash = (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    (hash as usize) & (SHARDS - 1)
}

/// A source address as the unauthenticated bucket keys it: IPv4 whole, IPv6 by its /64.
fn source_key(source_ip: &str) -> u128 {
    match source_ip.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => u128::from(u32::from(v4)),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => u128::from(u32::from(v4)),
            None => (u128::from(v6) & !0xffff_ffff_ffff_ffff) | 1 << 32,
        },
        // No address (not a TCP peer): one source.
        Err(_) => u128::MAX,
    }
}

impl Quotas {
    /// Set the rates; the first call wins (the service is configured once, when ready).
    pub fn configure(&self, settings: &QuotaSettings) {
        let _ = self.table.set(Table::from_settings(settings));
    }

    fn table(&self) -> &Table {
        self.table
            .get_or_init(|| Table::from_settings(&QuotaSettings::default()))
    }

    /// Share the account quotas among `nodes` nodes (at least 1): each node's buckets fill at
    /// 1/n of the rate, so the nodes together allow about the configured rate.
    pub fn set_nodes(&self, nodes: u64) {
        self.nodes
            .store(nodes.clamp(1, u64::from(u32::MAX)) as u32, Relaxed);
    }

    pub fn nodes(&self) -> u32 {
        self.nodes.load(Relaxed)
    }

    /// Take one request of `class` from the account's bucket in `region`: `false` when the
    /// call is over quota (and it is counted).
    pub fn take(&self, account: &AccountId, region: &Region, class: Class, now: Instant) -> bool {
        let table = self.table();
        let Some(rate) = table.rates[class.0 as usize].filter(|_| table.enabled) else {
            return true;
        };
        let rate = rate.shared(self.nodes());
        let shard = &self.accounts[shard_of(account.as_str().as_bytes())];
        let mut accounts = shard.lock().unwrap_or_else(|p| p.into_inner());
        if !accounts.contains_key(account.as_str()) {
            // The account's first call (since start): its only allocation.
            accounts.insert(account.as_str().to_owned(), Vec::new());
        }
        let Some(regions) = accounts.get_mut(account.as_str()) else {
            return true;
        };
        let index = match regions.iter().position(|(r, _)| r == region) {
            Some(i) => i,
            None if regions.len() < MAX_REGIONS_PER_ACCOUNT => {
                regions.push((region.clone(), Box::new([None; N])));
                regions.len() - 1
            }
            None => regions.len() - 1,
        };
        let bucket = regions[index].1[class.0 as usize].get_or_insert(Bucket::full(rate, now));
        let taken = bucket.take(rate, now);
        drop(accounts);
        if !taken {
            self.throttled[class.0 as usize].fetch_add(1, Relaxed);
        }
        taken
    }

    /// A failed unauthenticated attempt from `source_ip`.
    pub fn unauthenticated(&self, source_ip: &str, now: Instant) -> Unauthenticated {
        let table = self.table();
        let Some(rate) = table.unauthenticated.filter(|_| table.enabled) else {
            return Unauthenticated::Allowed;
        };
        let key = source_key(source_ip);
        let shard = &self.sources[shard_of(&key.to_le_bytes())];
        let mut guard = shard.lock().unwrap_or_else(|p| p.into_inner());
        let shard = &mut *guard;
        let known = shard.sources.contains_key(&key);
        let sweep_due = shard
            .swept
            .is_none_or(|t| now.saturating_duration_since(t).as_secs() >= 1);
        if !known && shard.sources.len() >= MAX_SOURCES_PER_SHARD && sweep_due {
            shard.sources.retain(|_, s| !s.bucket.idle(rate, now));
            shard.swept = Some(now);
        }
        let fresh = SourceBucket {
            bucket: Bucket::full(rate, now),
            noted: false,
        };
        let source = if known || shard.sources.len() < MAX_SOURCES_PER_SHARD {
            shard.sources.entry(key).or_insert(fresh)
        } else {
            shard.overflow.get_or_insert(fresh)
        };
        if source.bucket.take(rate, now) {
            source.noted = false;
            return Unauthenticated::Allowed;
        }
        let record = !source.noted;
        source.noted = true;
        drop(guard);
        self.throttled_unauthenticated.fetch_add(1, Relaxed);
        if !record {
            self.unrecorded.fetch_add(1, Relaxed);
        }
        Unauthenticated::Throttled { record }
    }

    /// The Prometheus lines of the throttled counts.
    pub fn metrics(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::from(
            "# HELP keyledger_throttled_requests_total Calls answered ThrottlingException, per quota class.\n\
             # TYPE keyledger_throttled_requests_total counter\n",
        );
        for (i, (name, _)) in CLASSES.iter().enumerate() {
            let n = self.throttled[i].load(Relaxed);
            let _ = writeln!(
                out,
                "keyledger_throttled_requests_total{{class=\"{name}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "keyledger_throttled_requests_total{{class=\"{UNAUTHENTICATED}\"}} {}",
            self.throttled_unauthenticated.load(Relaxed)
        );
        let _ = write!(
            out,
            "# HELP keyledger_throttled_unrecorded_total Throttled unauthenticated attempts not recorded one by one (only the first of each run is).\n\
             # TYPE keyledger_throttled_unrecorded_total counter\n\
             keyledger_throttled_unrecorded_total {}\n",
            self.unrecorded.load(Relaxed)
        );
        let _ = write!(
            out,
            "# HELP keyledger_quota_nodes The nodes the account quotas are shared among (each takes 1/n).\n\
             # TYPE keyledger_quota_nodes gauge\n\
             keyledger_quota_nodes {}\n",
            self.nodes()
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn account(n: u8) -> AccountId {
        AccountId::parse(&format!("{:012}", n)).unwrap()
    }

    fn quotas(toml_text: &str) -> Quotas {
        let settings: QuotaSettings = toml::from_str(toml_text).unwrap();
        let quotas = Quotas::default();
        quotas.configure(&settings);
        quotas
    }

    #[test]
    fn every_operation_of_the_catalog_has_a_charge_and_the_aws_ones_a_quota() {
        for op in super::super::catalog::OPERATIONS {
            let charge = charge_of(op.name);
            if op.action.starts_with("kms:") && op.support == super::super::catalog::Support::Served
            {
                assert_ne!(charge, Charge::Free, "{} has no quota", op.name);
            }
            if let Charge::Now(class) = charge {
                assert!(
                    class == Class::SYMMETRIC || class.name() == op.name,
                    "{}",
                    op.name
                );
            }
        }
        assert_eq!(charge_of("Encrypt"), Charge::ByKey);
        assert_eq!(charge_of("GenerateRandom"), Charge::Now(Class::SYMMETRIC));
        assert_eq!(Class::of_key(KeySpec::Hmac256), Class::SYMMETRIC);
        assert_eq!(Class::of_key(KeySpec::Rsa4096).name(), "rsa");
        assert_eq!(
            Class::of_key_pair("RSA_4096").map(Class::name),
            Some("key_pair_rsa_4096")
        );
    }

    #[test]
    fn a_bucket_grants_its_burst_then_its_rate() {
        let q = quotas("CreateKey = 2");
        let (a, r) = (account(1), Region::parse("us-east-1").unwrap());
        let class = Class::named("CreateKey").unwrap();
        let t0 = Instant::now();
        assert!(q.take(&a, &r, class, t0));
        assert!(q.take(&a, &r, class, t0));
        assert!(!q.take(&a, &r, class, t0), "a burst of one second's rate");
        assert!(!q.take(&a, &r, class, t0 + Duration::from_millis(400)));
        assert!(q.take(&a, &r, class, t0 + Duration::from_millis(600)));
        // Other accounts, Regions and classes have their own buckets.
        assert!(q.take(&account(2), &r, class, t0));
        assert!(q.take(&a, &Region::parse("eu-west-1").unwrap(), class, t0));
        assert!(q.take(&a, &r, Class::named("DescribeKey").unwrap(), t0));
        assert!(q
            .metrics()
            .contains("keyledger_throttled_requests_total{class=\"CreateKey\"} 2\n"));
    }

    #[test]
    fn n_nodes_each_allow_one_nth_of_the_rate() {
        let quotas = Quotas::default();
        let mut settings = QuotaSettings::default();
        let class = Class::named("CreateKey").unwrap();
        settings.rates[class.0 as usize] = Some(10.0);
        quotas.configure(&settings);
        let region = Region::parse("us-east-1").unwrap();
        let start = Instant::now();
        let burst = |quotas: &Quotas, n: u8| {
            (0..100)
                .filter(|_| quotas.take(&account(n), &region, class, start))
                .count()
        };
        assert_eq!(burst(&quotas, 1), 10, "one node: the whole burst");
        quotas.set_nodes(2);
        assert_eq!(burst(&quotas, 2), 5, "two nodes: half each");
        // One second later the account has had half the rate again on this node.
        let later = start + Duration::from_secs(1);
        let refilled = (0..100)
            .filter(|_| quotas.take(&account(2), &region, class, later))
            .count();
        assert_eq!(refilled, 5);
        quotas.set_nodes(0);
        assert_eq!(quotas.nodes(), 1, "never fewer than one node");
    }

    #[test]
    fn a_rate_under_one_is_one_request_per_interval() {
        let q = quotas("key_pair_rsa_4096 = 0.1");
        let (a, r) = (account(1), Region::parse("us-east-1").unwrap());
        let class = Class::named("key_pair_rsa_4096").unwrap();
        let t0 = Instant::now();
        assert!(q.take(&a, &r, class, t0));
        assert!(!q.take(&a, &r, class, t0 + Duration::from_secs(9)));
        assert!(q.take(&a, &r, class, t0 + Duration::from_secs(11)));
    }

    #[test]
    fn quotas_turn_off_whole_or_per_class() {
        let t0 = Instant::now();
        let (a, r) = (account(1), Region::parse("us-east-1").unwrap());
        let create_key = Class::named("CreateKey").unwrap();
        let off = quotas("enabled = false\nCreateKey = 1");
        assert!((0..100).all(|_| off.take(&a, &r, create_key, t0)));
        let free = quotas("CreateKey = false");
        assert!((0..100).all(|_| free.take(&a, &r, create_key, t0)));
        // AWS's defaults otherwise: CreateKey 5 per second.
        let aws = Quotas::default();
        assert_eq!(
            (0..100)
                .filter(|_| aws.take(&a, &r, create_key, t0))
                .count(),
            5
        );
    }

    #[test]
    fn the_table_refuses_unknown_keys_and_bad_rates() {
        for bad in [
            "CreateKeys = 5",
            "CreateKey = 0",
            "CreateKey = -1",
            "CreateKey = \"5\"",
            "enabled = 1",
            "unauthenticated = true",
        ] {
            assert!(toml::from_str::<QuotaSettings>(bad).is_err(), "{bad}");
        }
        assert!(
            toml::from_str::<QuotaSettings>("RSA = 1").is_err(),
            "names are exact"
        );
        let parsed: QuotaSettings =
            toml::from_str("symmetric = 50\nunauthenticated = false").unwrap();
        assert_eq!(parsed.rate(Class::SYMMETRIC), Some(50.0));
        assert_eq!(parsed.unauthenticated, None);
        assert_eq!(parsed.rate(Class::named("CreateKey").unwrap()), Some(5.0));
    }

    #[test]
    fn unauthenticated_attempts_are_bounded_per_source_and_recorded_boundedly() {
        let q = quotas("unauthenticated = 2");
        let t0 = Instant::now();
        let verdicts: Vec<_> = (0..5).map(|_| q.unauthenticated("192.0.2.7", t0)).collect();
        assert_eq!(
            verdicts,
            [
                Unauthenticated::Allowed,
                Unauthenticated::Allowed,
                Unauthenticated::Throttled { record: true },
                Unauthenticated::Throttled { record: false },
                Unauthenticated::Throttled { record: false },
            ]
        );
        // Another source is not throttled; an IPv6 /64 is one source.
        assert_eq!(q.unauthenticated("192.0.2.8", t0), Unauthenticated::Allowed);
        assert_eq!(
            q.unauthenticated("2001:db8::1", t0),
            Unauthenticated::Allowed
        );
        assert_eq!(
            q.unauthenticated("2001:db8::2", t0),
            Unauthenticated::Allowed
        );
        assert_eq!(
            q.unauthenticated("2001:db8::3", t0),
            Unauthenticated::Throttled { record: true }
        );
        // Refilled: allowed again, and the next run's first throttled attempt is recorded.
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(q.unauthenticated("192.0.2.7", t1), Unauthenticated::Allowed);
        assert_eq!(q.unauthenticated("192.0.2.7", t1), Unauthenticated::Allowed);
        assert_eq!(
            q.unauthenticated("192.0.2.7", t1),
            Unauthenticated::Throttled { record: true }
        );
        let metrics = q.metrics();
        assert!(
            metrics.contains("{class=\"unauthenticated\"} 5\n"),
            "{metrics}"
        );
        assert!(
            metrics.contains("keyledger_throttled_unrecorded_total 2\n"),
            "{metrics}"
        );
    }

    #[test]
    fn the_source_table_is_bounded() {
        let q = quotas("unauthenticated = 1");
        let t0 = Instant::now();
        for i in 0..(SHARDS * MAX_SOURCES_PER_SHARD * 2) as u32 {
            let ip = std::net::Ipv4Addr::from(i).to_string();
            q.unauthenticated(&ip, t0);
        }
        let tracked: usize = q
            .sources
            .iter()
            .map(|s| s.lock().unwrap().sources.len())
            .sum();
        assert!(tracked <= SHARDS * MAX_SOURCES_PER_SHARD);
    }
}
