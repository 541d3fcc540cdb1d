-- The ledger: append-only, hash-chained. `data` is the event envelope's JSON
-- exactly as hashed; the other columns index it (verify checks they agree).
CREATE TABLE IF NOT EXISTS events (
    position       INTEGER PRIMARY KEY,
    stream         TEXT,
    stream_version INTEGER,
    event_name     TEXT NOT NULL,
    data           BLOB NOT NULL,
    hash           BLOB NOT NULL
);
-- Optimistic concurrency backstop: one event per (stream, version).
CREATE UNIQUE INDEX IF NOT EXISTS events_by_stream ON events (stream, stream_version) WHERE stream IS NOT NULL;

-- The one mutable table: per-key shredding keys, wrapped by the root key.
-- Deleting a row crypto-shreds the key: its sealed material in the events can never be opened again.
CREATE TABLE IF NOT EXISTS shredding_keys (
    key_id  TEXT PRIMARY KEY,
    wrapped BLOB NOT NULL
);
