-- The trail's evidence (docs/decisions/0009-trail-evidence.md, replay/src/trail.rs).
--
-- An RFC 6962 Merkle tree over the events: leaf i is the event at position i + 1, its bytes the
-- stored `data`. Kept in the append transaction. Only the hashes at tile levels 0, 8, 16, … are
-- stored (the rows of C2SP tlog-tiles tiles of height 8); any other node is recomputed from at
-- most 256 of them. Derived data: `keyledger verify` recomputes every one from the events.
CREATE TABLE IF NOT EXISTS trail_hashes (
    level INTEGER NOT NULL,  -- 0, 8, 16, …
    idx INTEGER NOT NULL,    -- the node's index within its level
    hash BLOB NOT NULL,      -- 32 bytes
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;

-- Signed tree heads: C2SP tlog-checkpoint notes signed per C2SP signed-note with the ledger's
-- Ed25519 key. Every one is kept, so any two can be proven consistent.
CREATE TABLE IF NOT EXISTS trail_checkpoints (
    tree_size INTEGER PRIMARY KEY,
    root_hash BLOB NOT NULL,
    note TEXT NOT NULL,      -- the signed note, byte for byte
    created_ns INTEGER NOT NULL
);

-- Inclusion proofs are asked for by event id (the CloudTrail eventID).
CREATE UNIQUE INDEX IF NOT EXISTS events_event_id ON events (event_id);
