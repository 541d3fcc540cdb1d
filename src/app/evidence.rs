//! The trail's evidence on the service side: the ledger's note key (created at first start,
//! sealed under the root key), the checkpoint signer handed to the writer, the start-up
//! check, and the proofs the `/v1/trail/` endpoints serve (`replay::trail` is the format).

use super::bootstrap::BootstrapError;
use super::{lifecycle_event, Service};
use crate::crypto::root_key::{RootKey, LABEL_TRAIL_SIGNER_KEY};
use crate::domain::events::{Actor, DomainEvent, Sealed, TrailKeyCreated};
use crate::domain::ids::AccountId;
use crate::ledger::{AppendBatch, CheckpointSigner, LedgerReader, StoreError, StoredCheckpoint};
use replay::trail::{NoteSigner, Query};
use std::sync::Arc;
use zeroize::Zeroizing;

/// The checkpoints' origin when none is configured.
pub fn default_origin(account: &AccountId) -> String {
    format!("keyledger/{account}")
}

/// Signs checkpoints with the unsealed note key.
struct TrailSigner {
    origin: String,
    signer: NoteSigner,
}

impl CheckpointSigner for TrailSigner {
    fn sign(&self, size: u64, root: [u8; 32]) -> Result<String, String> {
        self.signer
            .sign_checkpoint(&self.origin, size, root)
            .map_err(|e| e.to_string())
    }
}

/// Make sure the ledger has a note key (recording one on first start), hand its signer to
/// the writer, and checkpoint whatever the log holds now.
pub async fn start_signing(
    service: &Service,
    account: &AccountId,
    configured_origin: Option<&str>,
) -> Result<Arc<TrailKeyCreated>, BootstrapError> {
    let key = match service.projections.trail_keys.current() {
        Some(key) => {
            if let Some(origin) = configured_origin {
                if origin != key.origin {
                    return Err(BootstrapError::Trail(format!(
                        "this ledger's trail origin is {:?}, not {origin:?}: the origin names the \
                         log and its note key, and is fixed when the ledger is created",
                        key.origin
                    )));
                }
            }
            key
        }
        None => {
            let origin = configured_origin
                .map(str::to_owned)
                .unwrap_or_else(|| default_origin(account));
            create_key(service, account, &origin).await?
        }
    };
    let signer = unseal_signer(service.keyring.root(), &key)?;
    let signer = Arc::new(TrailSigner {
        origin: key.origin.clone(),
        signer,
    });
    let unavailable = |e: crate::ledger::AppendError| BootstrapError::Append(e.to_string());
    service
        .ledger
        .set_signer(signer)
        .await
        .map_err(unavailable)?;
    // The tail a crash left unsigned is covered at once, not a second later.
    service.ledger.checkpoint_now().await.map_err(unavailable)?;
    Ok(key)
}

/// The note key's signer, unsealed with the root key.
pub fn unseal_signer(root: &RootKey, key: &TrailKeyCreated) -> Result<NoteSigner, BootstrapError> {
    let skey = root
        .unwrap(
            LABEL_TRAIL_SIGNER_KEY,
            key.verifier_key.as_bytes(),
            &key.sealed_signer_key.0,
        )
        .map_err(|_| BootstrapError::WrongRootKey)?;
    let skey =
        Zeroizing::new(String::from_utf8(skey.to_vec()).map_err(|_| BootstrapError::WrongRootKey)?);
    NoteSigner::new(&skey).map_err(|e| BootstrapError::Trail(e.to_string()))
}

async fn create_key(
    service: &Service,
    account: &AccountId,
    origin: &str,
) -> Result<Arc<TrailKeyCreated>, BootstrapError> {
    let (skey, vkey) = replay::trail::generate_note_key(origin)
        .map_err(|e| BootstrapError::Trail(e.to_string()))?;
    let skey = Zeroizing::new(skey);
    let sealed =
        service
            .keyring
            .root()
            .wrap(LABEL_TRAIL_SIGNER_KEY, vkey.as_bytes(), skey.as_bytes());
    let event = DomainEvent::TrailKeyCreated(TrailKeyCreated {
        account_id: account.clone(),
        origin: origin.to_owned(),
        verifier_key: vkey,
        sealed_signer_key: Sealed(sealed),
    });
    let actor = Actor {
        principal_arn: Some("keyledger".into()),
        account_id: Some(account.to_string()),
        ..Actor::default()
    };
    let request_id = uuid::Uuid::new_v4().to_string();
    let batch = AppendBatch {
        events: vec![lifecycle_event(
            &request_id,
            "CreateTrailKey",
            &actor,
            service.clock.now(),
            &event,
            1,
        )],
        ..AppendBatch::default()
    };
    service
        .ledger
        .append(batch)
        .await
        .map_err(|e| BootstrapError::Append(e.to_string()))?;
    service
        .projections
        .trail_keys
        .current()
        .ok_or_else(|| BootstrapError::Trail("the trail key was not recorded".into()))
}

/// What the start-up check saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartupCheck {
    /// The newest checkpoint's size (0 when there is none yet).
    pub checkpointed: u64,
    /// Events after it, whose chain and leaves were checked.
    pub tail: u64,
}

/// The verifier key the ledger's own `TrailKeyCreated` event names (offline tools).
pub async fn ledger_vkey(reader: &LedgerReader) -> Result<Option<String>, StoreError> {
    use crate::domain::events::{DomainEvent, Envelope};
    let events = reader.read_lifecycle(0).await?;
    Ok(events
        .iter()
        .filter(|e| e.stream.as_deref() == Some("trail"))
        .find_map(|e| match Envelope::decode(&e.data).ok()?.lifecycle() {
            Some(DomainEvent::TrailKeyCreated(key)) => Some(key.verifier_key.clone()),
            _ => None,
        }))
}

/// Before anything is served: the newest checkpoint's signature (by the ledger's note key),
/// that the stored tree of its size has its root, that the log still reaches it, and the
/// hash chain and tree leaves of every event since. With no checkpoint yet (a new ledger,
/// or one from before the trail) the whole log is the tail.
pub async fn check_ledger(
    reader: &LedgerReader,
    key: Option<&TrailKeyCreated>,
) -> Result<StartupCheck, String> {
    let store = |e: StoreError| e.to_string();
    let head = reader.head().await.map_err(store)?;
    let newest = reader.checkpoint(None).await.map_err(store)?;
    let from = match &newest {
        None => 0,
        Some(checkpoint) => {
            let key = key.ok_or(
                "the ledger has checkpoints but no TrailKeyCreated event: its note key was removed",
            )?;
            check_checkpoint(reader, checkpoint, &key.verifier_key).await?;
            if head.position < checkpoint.size {
                return Err(format!(
                    "the newest checkpoint covers {} events but the log ends at {}: events were removed",
                    checkpoint.size, head.position
                ));
            }
            checkpoint.size
        }
    };
    // The chain from the checkpointed event on: replay's verifier (positions, links, and the
    // indexed columns against the hashed JSON), and each event's stored leaf.
    let prev = if from == 0 {
        replay::GENESIS_HASH
    } else {
        reader
            .read_all(from - 1, 1)
            .await
            .map_err(store)?
            .first()
            .map(|e| e.hash)
            .ok_or_else(|| format!("the checkpointed event at position {from} is missing"))?
    };
    let mut chain = replay::ChainVerifier::after(from, prev);
    let mut after = from;
    while after < head.position {
        let page = reader.read_all(after, 8192).await.map_err(store)?;
        let Some(last) = page.last() else { break };
        let leaves = reader
            .stored_hashes(0, after..last.position)
            .await
            .map_err(store)?;
        for (event, stored_leaf) in page.iter().zip(leaves) {
            chain.push(&stored_row(event)).map_err(|e| e.to_string())?;
            if stored_leaf != replay::trail::leaf_hash(&event.data) {
                return Err(format!(
                    "position {}: the trail tree's leaf does not match the event",
                    event.position
                ));
            }
            after = event.position;
        }
    }
    Ok(StartupCheck {
        checkpointed: from,
        tail: head.position - from,
    })
}

/// A stored event as the offline verifier reads rows.
fn stored_row(event: &crate::ledger::StoredEvent) -> replay::StoredRow {
    replay::StoredRow {
        position: event.position as i64,
        stream: event.stream.clone(),
        stream_version: event.stream_version.map(|v| v as i64),
        event_name: event.event_name.clone(),
        data: event.data.clone(),
        hash: event.hash.to_vec(),
        event_id: event.event_id.clone(),
        time_ns: event.time_ns,
        keys: event.keys.clone(),
        error_code: event.error_code.clone(),
        account: event.account.clone(),
        principal: event.principal.clone(),
    }
}

/// A stored checkpoint's signature, and that the stored tree of its size has its root.
pub(crate) async fn check_checkpoint(
    reader: &LedgerReader,
    checkpoint: &StoredCheckpoint,
    vkey: &str,
) -> Result<(), String> {
    let signed = replay::trail::verify_checkpoint(checkpoint.note.as_bytes(), vkey)
        .map_err(|e| format!("the newest checkpoint (size {}): {e}", checkpoint.size))?;
    if signed.size != checkpoint.size || signed.root != checkpoint.root {
        return Err(format!(
            "the newest checkpoint's note does not match its stored size and root (size {})",
            checkpoint.size
        ));
    }
    let root = reader
        .tree(Query::Root {
            size: checkpoint.size,
        })
        .await
        .map_err(|e| e.to_string())?;
    if root.first() != Some(&checkpoint.root) {
        return Err(format!(
            "the trail tree of size {} does not have the signed root: the log before it was rewritten",
            checkpoint.size
        ));
    }
    Ok(())
}

/// Why a proof cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The inclusion proof of event `event_id` in the checkpoint of `tree_size` (the newest
/// checkpoint when `None`).
pub async fn inclusion(
    reader: &LedgerReader,
    event_id: &str,
    tree_size: Option<u64>,
) -> Result<replay::trail::InclusionProof, ProofError> {
    // Two independent reads, at once (the pool has a connection for each): the proof's
    // latency is one round trip less.
    let (event, checkpoint) = tokio::join!(
        reader.event_by_id(event_id),
        checkpoint_of(reader, tree_size)
    );
    let event =
        event?.ok_or_else(|| ProofError::NotFound(format!("no event {event_id} in the trail")))?;
    let checkpoint = checkpoint?;
    let leaf = event.position - 1;
    if leaf >= checkpoint.size {
        return Err(ProofError::NotFound(format!(
            "event {event_id} (position {}) is not yet in a checkpoint of size {}; retry in a second",
            event.position, checkpoint.size
        )));
    }
    let path = reader
        .tree(Query::Inclusion {
            leaf,
            size: checkpoint.size,
        })
        .await?;
    Ok(replay::trail::InclusionProof::new(
        event_id,
        leaf,
        &event.data,
        &path,
        &checkpoint.note,
        checkpoint.size,
    ))
}

/// The consistency proof between two checkpointed sizes.
pub async fn consistency(
    reader: &LedgerReader,
    from: u64,
    to: u64,
) -> Result<replay::trail::ConsistencyProof, ProofError> {
    if from > to {
        return Err(ProofError::Invalid(format!(
            "from ({from}) must not be greater than to ({to})"
        )));
    }
    for size in [from, to] {
        if size > 0 {
            checkpoint_of(reader, Some(size)).await?;
        }
    }
    let proof = if from == 0 || from == to {
        Vec::new()
    } else {
        reader.tree(Query::Consistency { from, to }).await?
    };
    Ok(replay::trail::ConsistencyProof::new(from, to, &proof))
}

/// The checkpoint of `size`, or the newest.
pub async fn checkpoint_of(
    reader: &LedgerReader,
    size: Option<u64>,
) -> Result<StoredCheckpoint, ProofError> {
    reader.checkpoint(size).await?.ok_or_else(|| {
        ProofError::NotFound(match size {
            Some(size) => format!("no checkpoint of tree size {size}"),
            None => "no checkpoint yet".into(),
        })
    })
}
