//! The trail's evidence: an RFC 6962 / RFC 9162 Merkle tree over the ledger's events, C2SP
//! `tlog-checkpoint` notes signed per C2SP `signed-note`, and the proofs an auditor checks
//! with nothing but the verifier key.
//!
//! - Leaf `i` (counted from 0) is the event at ledger position `i + 1`; its bytes are the
//!   stored event JSON, exactly what the BLAKE3 chain hashes after the position.
//! - Leaf hash `SHA-256(0x00 ‖ bytes)`, interior `SHA-256(0x01 ‖ left ‖ right)`
//!   ([`tlog_tiles::record_hash`], [`tlog_tiles::node_hash`]).
//! - Stored: the hashes at levels 0, 8, 16, … (the bottom rows of the C2SP `tlog-tiles`
//!   tiles of height 8); every other node is recomputed from at most 256 of them, so one
//!   proof reads a few tiles.
//!
//! The math of proofs is `tlog_tiles` (a port of Go's `sumdb/tlog`); this module adds the
//! compact range the writer keeps ([`Frontier`]), the tile layout, and the checks.

use base64::Engine as _;
use std::collections::HashMap;
use std::ops::Range;

pub use tlog_tiles::{Checkpoint, Hash};

/// Tile height of the C2SP `tlog-tiles` API (its only allowed value) and of the storage.
pub const TILE_HEIGHT: u8 = 8;
/// Hashes in a full tile.
pub const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;

/// `SHA-256(0x00 ‖ data)`: the leaf hash of an event's stored bytes.
pub fn leaf_hash(data: &[u8]) -> [u8; 32] {
    tlog_tiles::record_hash(data).0
}

/// A tile's index `N` as C2SP `tlog-tiles` writes it in a path (`tile/<L>/<N>`,
/// `tile/entries/<N>`): three-digit groups, all but the last prefixed with `x`
/// (`1234067` is `x001/x234/067`). The server's parser reads it back (`http::evidence`).
pub fn tile_index_path(mut n: u64) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    n /= 1000;
    while n > 0 {
        groups.push(format!("x{:03}", n % 1000));
        n /= 1000;
    }
    groups.reverse();
    groups.join("/")
}

/// A stored hash: the node at `level` (a multiple of [`TILE_HEIGHT`]) and `index` within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredHash {
    pub level: u8,
    pub index: u64,
    pub hash: [u8; 32],
}

/// The roots of the complete subtrees a tree of `size` leaves is made of (one per set bit
/// of `size`, largest first): all a writer needs to append and to compute the root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// (level, hash), levels strictly decreasing.
    subtrees: Vec<(u8, [u8; 32])>,
}

impl Frontier {
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Build from the subtree roots of a tree of `size` leaves, largest first (as
    /// [`frontier_ranges`] lists them).
    pub fn from_subtrees(size: u64, roots: Vec<[u8; 32]>) -> Result<Frontier, TrailError> {
        let levels: Vec<u8> = frontier_ranges(size).iter().map(|(l, _)| *l).collect();
        if levels.len() != roots.len() {
            return Err(TrailError::Malformed("frontier of the wrong length".into()));
        }
        Ok(Frontier {
            size,
            subtrees: levels.into_iter().zip(roots).collect(),
        })
    }

    /// Append one leaf; returns the hashes to store (the leaf, and any completed node at a
    /// tile level).
    pub fn push(&mut self, leaf: [u8; 32], out: &mut Vec<StoredHash>) {
        out.push(StoredHash {
            level: 0,
            index: self.size,
            hash: leaf,
        });
        self.size += 1;
        let mut node = (0u8, leaf);
        while let Some(&(level, left)) = self.subtrees.last() {
            if level != node.0 {
                break;
            }
            self.subtrees.pop();
            node = (level + 1, tlog_tiles::node_hash(Hash(left), Hash(node.1)).0);
            if node.0 % TILE_HEIGHT == 0 {
                out.push(StoredHash {
                    level: node.0,
                    index: (self.size >> node.0) - 1,
                    hash: node.1,
                });
            }
        }
        self.subtrees.push(node);
    }

    /// The RFC 6962 root hash of the tree (the hash of the empty string when empty).
    pub fn root(&self) -> [u8; 32] {
        let mut iter = self.subtrees.iter().rev();
        let Some(&(_, mut hash)) = iter.next() else {
            return tlog_tiles::EMPTY_HASH.0;
        };
        for (_, left) in iter {
            hash = tlog_tiles::node_hash(Hash(*left), Hash(hash)).0;
        }
        hash
    }
}

/// For a tree of `size` leaves: each complete subtree's (level, first leaf), largest first.
pub fn frontier_ranges(size: u64) -> Vec<(u8, u64)> {
    let mut out = Vec::new();
    let mut start = 0;
    for level in (0..64u8).rev() {
        if size & (1 << level) != 0 {
            out.push((level, start));
            start += 1 << level;
        }
    }
    out
}

/// Stored hashes needed to compute nodes: for each tile level, the index ranges to read.
pub type Needs = Vec<(u8, Range<u64>)>;

/// What node `(level, n)` is computed from: a range of stored hashes at the tile level at or below it.
pub fn node_source(level: u8, n: u64) -> (u8, Range<u64>) {
    let base = level - level % TILE_HEIGHT;
    let span = level - base;
    (base, (n << span)..((n + 1) << span))
}

/// The node `(level, n)` computed from the stored hashes at its tile level.
pub fn node_from_stored(level: u8, n: u64, stored: &[[u8; 32]]) -> Result<[u8; 32], TrailError> {
    let (_, range) = node_source(level, n);
    if stored.len() as u64 != range.end - range.start {
        return Err(TrailError::Malformed(format!(
            "node ({level}, {n}) needs {} stored hashes, got {}",
            range.end - range.start,
            stored.len()
        )));
    }
    let flat: Vec<u8> = stored.iter().flatten().copied().collect();
    Ok(tlog_tiles::Tile::subtree_hash(&flat).0)
}

/// A source of the stored hashes at tile levels (a backend, or tiles fetched from a log).
pub trait StoredHashes {
    /// The hashes at `level` (a multiple of [`TILE_HEIGHT`]) with indexes in `range`, in
    /// order; an error when any is missing.
    fn stored(&self, level: u8, range: Range<u64>) -> Result<Vec<[u8; 32]>, TrailError>;
}

/// `tlog_tiles` asks for nodes by stored-hash index; this answers from [`StoredHashes`].
struct Nodes<'a, S: StoredHashes>(&'a S);

impl<S: StoredHashes> tlog_tiles::HashReader for Nodes<'_, S> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&index| {
                let (level, n) = tlog_tiles::split_stored_hash_index(index);
                let (base, range) = node_source(level, n);
                let stored = self
                    .0
                    .stored(base, range)
                    .map_err(|_| tlog_tiles::Error::IndexesNotInTree)?;
                node_from_stored(level, n, &stored)
                    .map(Hash)
                    .map_err(|_| tlog_tiles::Error::BadMath)
            })
            .collect()
    }
}

/// Records which nodes a computation reads, answering with placeholders: proofs read their
/// nodes in one call whose indexes do not depend on the values, so an async backend can
/// learn what to fetch, fetch it, and then run the computation for real.
#[derive(Default)]
struct Recorder(std::cell::RefCell<Vec<u64>>);

impl tlog_tiles::HashReader for Recorder {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        self.0.borrow_mut().extend_from_slice(indexes);
        Ok(vec![Hash::default(); indexes.len()])
    }
}

fn needs_of(recorder: Recorder) -> Needs {
    recorder
        .0
        .into_inner()
        .into_iter()
        .map(|index| {
            let (level, n) = tlog_tiles::split_stored_hash_index(index);
            node_source(level, n)
        })
        .collect()
}

/// What one of the computations below must read.
pub enum Query {
    Root { size: u64 },
    Inclusion { leaf: u64, size: u64 },
    Consistency { from: u64, to: u64 },
}

impl Query {
    /// The stored-hash ranges this query reads.
    pub fn needs(&self) -> Result<Needs, TrailError> {
        let recorder = Recorder::default();
        self.run(&recorder)?;
        Ok(needs_of(recorder))
    }

    fn run<R: tlog_tiles::HashReader>(&self, reader: &R) -> Result<Vec<Hash>, TrailError> {
        Ok(match *self {
            Query::Root { size } => vec![tlog_tiles::tree_hash(size, reader)?],
            Query::Inclusion { leaf, size } => tlog_tiles::prove_record(size, leaf, reader)?,
            Query::Consistency { from, to } => {
                if from == to {
                    Vec::new()
                } else {
                    tlog_tiles::prove_tree(to, from, reader)?
                }
            }
        })
    }

    /// Run the query against stored hashes (fetched per [`Query::needs`]).
    pub fn answer<S: StoredHashes>(&self, stored: &S) -> Result<Vec<[u8; 32]>, TrailError> {
        Ok(self.run(&Nodes(stored))?.into_iter().map(|h| h.0).collect())
    }
}

/// Stored hashes fetched ahead of a computation, by level and index.
#[derive(Debug, Default)]
pub struct Fetched(pub HashMap<(u8, u64), [u8; 32]>);

impl StoredHashes for Fetched {
    fn stored(&self, level: u8, range: Range<u64>) -> Result<Vec<[u8; 32]>, TrailError> {
        range
            .map(|i| {
                self.0
                    .get(&(level, i))
                    .copied()
                    .ok_or(TrailError::Missing { level, index: i })
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrailError {
    #[error("stored hash ({level}, {index}) is missing")]
    Missing { level: u8, index: u64 },
    #[error("{0}")]
    Malformed(String),
    #[error("the proof does not verify: {0}")]
    Invalid(String),
    #[error("{0}")]
    Tlog(String),
}

impl From<tlog_tiles::Error> for TrailError {
    fn from(e: tlog_tiles::Error) -> TrailError {
        TrailError::Tlog(e.to_string())
    }
}

// ---- checkpoints and signed notes -------------------------------------------------------

/// The checkpoint body (C2SP `tlog-checkpoint`): origin, decimal size, base64 root.
pub fn checkpoint_body(origin: &str, size: u64, root: [u8; 32]) -> Result<Vec<u8>, TrailError> {
    Ok(Checkpoint::new(origin, size, Hash(root), "")
        .map_err(|e| TrailError::Malformed(e.to_string()))?
        .to_bytes())
}

/// A fresh Ed25519 note key named `name`: (signer key `PRIVATE+KEY+…`, verifier key).
pub fn generate_note_key(name: &str) -> Result<(String, String), TrailError> {
    if !signed_note::is_key_name_valid(name) {
        return Err(TrailError::Malformed(format!(
            "{name:?} is not a valid note key name (no spaces or '+')"
        )));
    }
    Ok(signed_note::generate_key(&mut rand_core::OsRng, name))
}

/// Signs checkpoints with the ledger's note key.
pub struct NoteSigner {
    signer: signed_note::StandardSigner,
}

impl NoteSigner {
    /// From a signer key string (`PRIVATE+KEY+<name>+<id>+<base64>`).
    pub fn new(skey: &str) -> Result<NoteSigner, TrailError> {
        Ok(NoteSigner {
            signer: signed_note::StandardSigner::new(skey)
                .map_err(|e| TrailError::Malformed(format!("signer key: {e}")))?,
        })
    }

    /// The signed note of the checkpoint of `size` leaves with this root.
    pub fn sign_checkpoint(
        &self,
        origin: &str,
        size: u64,
        root: [u8; 32],
    ) -> Result<String, TrailError> {
        let body = checkpoint_body(origin, size, root)?;
        self.sign_text(
            std::str::from_utf8(&body).map_err(|e| TrailError::Malformed(e.to_string()))?,
        )
    }

    /// Any text (ending in a newline, no control characters) as a signed note.
    pub fn sign_text(&self, text: &str) -> Result<String, TrailError> {
        let mut note = signed_note::Note::new(text.as_bytes(), &[])
            .map_err(|e| TrailError::Malformed(e.to_string()))?;
        note.add_sigs(&[&self.signer])
            .map_err(|e| TrailError::Malformed(e.to_string()))?;
        String::from_utf8(note.to_bytes()).map_err(|e| TrailError::Malformed(e.to_string()))
    }
}

/// A checkpoint whose signature by the verifier key checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    pub origin: String,
    pub size: u64,
    pub root: [u8; 32],
}

/// Parse a signed checkpoint note and check its signature with `vkey`
/// (`<name>+<hex id>+<base64>`); other signatures (witnesses') are ignored.
pub fn verify_checkpoint(note: &[u8], vkey: &str) -> Result<VerifiedCheckpoint, TrailError> {
    let text = verify_note(note, vkey)?;
    let checkpoint = Checkpoint::from_bytes(text.as_bytes())
        .map_err(|e| TrailError::Malformed(format!("checkpoint: {e}")))?;
    Ok(VerifiedCheckpoint {
        origin: checkpoint.origin().to_owned(),
        size: checkpoint.size(),
        root: checkpoint.hash().0,
    })
}

/// Check a signed note's signature by `vkey` (other signers' lines are ignored) and
/// return its text.
pub fn verify_note(note: &[u8], vkey: &str) -> Result<String, TrailError> {
    let verifier = signed_note::StandardVerifier::new(vkey.trim())
        .map_err(|e| TrailError::Malformed(format!("verifier key: {e}")))?;
    let note = signed_note::Note::from_bytes(note)
        .map_err(|e| TrailError::Malformed(format!("signed note: {e}")))?;
    note.verify(&signed_note::VerifierList::new(vec![Box::new(verifier)]))
        .map_err(|e| TrailError::Invalid(format!("signature: {e}")))?;
    String::from_utf8(note.text().to_vec()).map_err(|e| TrailError::Malformed(e.to_string()))
}

/// The key name of a verifier key (its first `+`-separated field).
pub fn vkey_name(vkey: &str) -> &str {
    vkey.split('+').next().unwrap_or_default()
}

// ---- proofs, as the HTTP API hands them out --------------------------------------------

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(text: &str, what: &str) -> Result<Vec<u8>, TrailError> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| TrailError::Malformed(format!("{what} is not base64")))
}

fn hashes_of(list: &[String], what: &str) -> Result<Vec<Hash>, TrailError> {
    list.iter()
        .map(|h| {
            let bytes = unb64(h, what)?;
            <[u8; 32]>::try_from(bytes.as_slice())
                .map(Hash)
                .map_err(|_| TrailError::Malformed(format!("{what}: a hash is not 32 bytes")))
        })
        .collect()
}

/// `GET /v1/trail/events/{eventId}/inclusion`: one event and its path to a signed root.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct InclusionProof {
    pub event_id: String,
    pub position: u64,
    pub leaf_index: u64,
    pub tree_size: u64,
    /// Base64 of the leaf bytes (the stored event JSON).
    pub leaf: String,
    /// Base64 hashes, leaf to root (RFC 9162 §2.1.3).
    pub inclusion_path: Vec<String>,
    /// The signed checkpoint note of `tree_size`.
    pub checkpoint: String,
}

impl InclusionProof {
    pub fn new(
        event_id: &str,
        leaf_index: u64,
        leaf: &[u8],
        path: &[[u8; 32]],
        checkpoint_note: &str,
        tree_size: u64,
    ) -> InclusionProof {
        InclusionProof {
            event_id: event_id.to_owned(),
            position: leaf_index + 1,
            leaf_index,
            tree_size,
            leaf: b64(leaf),
            inclusion_path: path.iter().map(|h| b64(h)).collect(),
            checkpoint: checkpoint_note.to_owned(),
        }
    }

    /// Check, with nothing but the verifier key: the checkpoint's signature, that the
    /// leaf is at `leaf_index` under its root, and that the leaf is the event claimed.
    /// Returns the verified checkpoint and the leaf bytes.
    pub fn verify(&self, vkey: &str) -> Result<(VerifiedCheckpoint, Vec<u8>), TrailError> {
        let checkpoint = verify_checkpoint(self.checkpoint.as_bytes(), vkey)?;
        if checkpoint.size != self.tree_size {
            return Err(TrailError::Invalid(format!(
                "the checkpoint is of size {}, the proof of size {}",
                checkpoint.size, self.tree_size
            )));
        }
        if self.position != self.leaf_index + 1 {
            return Err(TrailError::Invalid("position is not leaf_index + 1".into()));
        }
        if self.leaf_index >= self.tree_size {
            return Err(TrailError::Invalid("the leaf is outside the tree".into()));
        }
        let leaf = unb64(&self.leaf, "leaf")?;
        let path = hashes_of(&self.inclusion_path, "inclusion_path")?;
        tlog_tiles::check_record(
            &path,
            self.tree_size,
            Hash(checkpoint.root),
            self.leaf_index,
            tlog_tiles::record_hash(&leaf),
        )
        .map_err(|e| TrailError::Invalid(e.to_string()))?;
        let columns = crate::columns::derive(&leaf)
            .map_err(|e| TrailError::Invalid(format!("the leaf is not an event: {e}")))?;
        if columns.event_id != self.event_id {
            return Err(TrailError::Invalid(format!(
                "the leaf is event {}, not {}",
                columns.event_id, self.event_id
            )));
        }
        Ok((checkpoint, leaf))
    }
}

/// `GET /v1/trail/consistency?from=N&to=M`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ConsistencyProof {
    pub from: u64,
    pub to: u64,
    /// Base64 hashes (RFC 9162 §2.1.4).
    pub proof: Vec<String>,
}

impl ConsistencyProof {
    pub fn new(from: u64, to: u64, proof: &[[u8; 32]]) -> ConsistencyProof {
        ConsistencyProof {
            from,
            to,
            proof: proof.iter().map(|h| b64(h)).collect(),
        }
    }

    /// Check that the tree of `new` extends the tree of `old` (both signed checkpoints,
    /// checked with `vkey`): nothing `old` covered was changed, removed or reordered.
    pub fn verify(&self, old: &[u8], new: &[u8], vkey: &str) -> Result<(), TrailError> {
        let old = verify_checkpoint(old, vkey)?;
        let new = verify_checkpoint(new, vkey)?;
        if (old.size, new.size) != (self.from, self.to) {
            return Err(TrailError::Invalid(format!(
                "the proof is from {} to {}, the checkpoints are of sizes {} and {}",
                self.from, self.to, old.size, new.size
            )));
        }
        verify_consistency(old.size, old.root, new.size, new.root, &self.proof)
    }
}

/// RFC 9162 §2.1.4.2 over base64 hashes: the tree (`to`, `new_root`) extends (`from`, `old_root`).
pub fn verify_consistency(
    from: u64,
    old_root: [u8; 32],
    to: u64,
    new_root: [u8; 32],
    proof: &[String],
) -> Result<(), TrailError> {
    if from > to {
        return Err(TrailError::Invalid("from is beyond to".into()));
    }
    let proof = hashes_of(proof, "proof")?;
    if from == to {
        return if proof.is_empty() && old_root == new_root {
            Ok(())
        } else {
            Err(TrailError::Invalid(
                "equal sizes with different roots".into(),
            ))
        };
    }
    if from == 0 {
        // Every tree extends the empty tree; RFC 9162 gives no proof for it.
        return if proof.is_empty() {
            Ok(())
        } else {
            Err(TrailError::Invalid("a proof from the empty tree".into()))
        };
    }
    tlog_tiles::check_tree(&proof, to, Hash(new_root), from, Hash(old_root))
        .map_err(|e| TrailError::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// All leaves in memory: the reference the stored layout is checked against.
    struct Leaves(Vec<[u8; 32]>);

    impl Leaves {
        fn new(n: u64) -> Leaves {
            Leaves(
                (0..n)
                    .map(|i| leaf_hash(format!("event {i}").as_bytes()))
                    .collect(),
            )
        }

        /// MTH of leaves [lo, hi) by RFC 6962's recursive definition.
        fn mth(&self, lo: usize, hi: usize) -> [u8; 32] {
            if hi - lo == 1 {
                return self.0[lo];
            }
            let k = (hi - lo).next_power_of_two() / 2;
            tlog_tiles::node_hash(Hash(self.mth(lo, lo + k)), Hash(self.mth(lo + k, hi))).0
        }
    }

    fn build(n: u64) -> (Frontier, Fetched) {
        let mut frontier = Frontier::default();
        let mut stored = Fetched::default();
        let mut out = Vec::new();
        for leaf in Leaves::new(n).0 {
            frontier.push(leaf, &mut out);
        }
        for s in out {
            assert_eq!(s.level % TILE_HEIGHT, 0);
            assert!(stored.0.insert((s.level, s.index), s.hash).is_none());
        }
        (frontier, stored)
    }

    #[test]
    fn the_frontier_root_is_rfc6962s_merkle_tree_hash() {
        for n in [1u64, 2, 3, 5, 255, 256, 257, 1000, 65_536 + 3] {
            let (frontier, stored) = build(n);
            let leaves = Leaves::new(n);
            assert_eq!(frontier.root(), leaves.mth(0, n as usize), "size {n}");
            let root = Query::Root { size: n }.answer(&stored).unwrap();
            assert_eq!(
                root,
                vec![frontier.root()],
                "root from stored hashes, size {n}"
            );
        }
        assert_eq!(Frontier::default().root(), tlog_tiles::EMPTY_HASH.0);
    }

    #[test]
    fn a_frontier_rebuilt_from_stored_hashes_continues_identically() {
        let (mut frontier, stored) = build(70_000);
        let roots: Vec<[u8; 32]> = frontier_ranges(70_000)
            .into_iter()
            .map(|(level, start)| {
                let n = start >> level;
                let (base, range) = node_source(level, n);
                node_from_stored(level, n, &stored.stored(base, range).unwrap()).unwrap()
            })
            .collect();
        let mut rebuilt = Frontier::from_subtrees(70_000, roots).unwrap();
        assert_eq!(rebuilt, frontier);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        frontier.push([7; 32], &mut a);
        rebuilt.push([7; 32], &mut b);
        assert_eq!((a, frontier.root()), (b, rebuilt.root()));
    }

    #[test]
    fn rfc6962_test_vectors() {
        // RFC 6962 / certificate-transparency-go test data: the eight leaves and roots.
        let leaves: [&[u8]; 8] = [
            b"",
            b"\x00",
            b"\x10",
            b"\x20\x21",
            b"\x30\x31",
            b"\x40\x41\x42\x43",
            b"\x50\x51\x52\x53\x54\x55\x56\x57",
            b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
        ];
        let roots = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        let mut frontier = Frontier::default();
        let mut out = Vec::new();
        for (leaf, root) in leaves.iter().zip(roots) {
            frontier.push(leaf_hash(leaf), &mut out);
            assert_eq!(hex::encode(frontier.root()), root);
        }
    }

    #[test]
    fn inclusion_and_consistency_proofs_verify_and_tampering_fails() {
        let n = 1_000u64;
        let (frontier, stored) = build(n);
        let leaves = Leaves::new(n);
        for leaf in [0u64, 1, 255, 256, 511, 999] {
            let path = Query::Inclusion { leaf, size: n }.answer(&stored).unwrap();
            let proof: Vec<Hash> = path.iter().map(|h| Hash(*h)).collect();
            tlog_tiles::check_record(
                &proof,
                n,
                Hash(frontier.root()),
                leaf,
                Hash(leaves.0[leaf as usize]),
            )
            .unwrap();
            let wrong = Hash(leaves.0[(leaf as usize + 1) % n as usize]);
            assert!(
                tlog_tiles::check_record(&proof, n, Hash(frontier.root()), leaf, wrong).is_err()
            );
        }
        for from in [1u64, 3, 256, 257, 999, 1000] {
            let old_root = leaves.mth(0, from as usize);
            let proof = Query::Consistency { from, to: n }.answer(&stored).unwrap();
            let proof: Vec<String> = proof.iter().map(|h| b64(h)).collect();
            verify_consistency(from, old_root, n, frontier.root(), &proof).unwrap();
            let mut forged = old_root;
            forged[0] ^= 1;
            assert!(verify_consistency(from, forged, n, frontier.root(), &proof).is_err());
        }
    }

    #[test]
    fn signed_checkpoints_verify_with_the_verifier_key_only() {
        let (skey, vkey) = generate_note_key("keyledger/111122223333").unwrap();
        let signer = NoteSigner::new(&skey).unwrap();
        let note = signer
            .sign_checkpoint("keyledger/111122223333", 42, [9; 32])
            .unwrap();
        assert!(note.starts_with("keyledger/111122223333\n42\n"));
        let checked = verify_checkpoint(note.as_bytes(), &vkey).unwrap();
        assert_eq!((checked.size, checked.root), (42, [9; 32]));
        // Another size under the same signature is refused.
        let forged = note.replacen("\n42\n", "\n43\n", 1);
        assert!(verify_checkpoint(forged.as_bytes(), &vkey).is_err());
        let (_, other) = generate_note_key("keyledger/111122223333").unwrap();
        assert!(verify_checkpoint(note.as_bytes(), &other).is_err());
    }
}
