-- The ledger seam (docs/decisions/0008-ledger-seam.md).

-- More indexed columns of each event, checked against the hashed JSON by `keyledger verify`:
-- what read models are rebuilt from without parsing every event.
ALTER TABLE events ADD COLUMN event_id TEXT;      -- the envelope's event_id (UUID v7)
ALTER TABLE events ADD COLUMN time_ns INTEGER;    -- the envelope's time, Unix nanoseconds UTC
ALTER TABLE events ADD COLUMN keys TEXT;          -- ids of the KMS keys the event concerns, space-separated
ALTER TABLE events ADD COLUMN error_code TEXT;    -- the envelope's error_code; NULL when the call succeeded

-- A ledger written before these columns existed has them filled from the hashed JSON once,
-- at the next start (src/ledger/sqlite.rs, fill_missing_columns); this row says it is due.
CREATE TABLE IF NOT EXISTS ledger_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO ledger_meta (key, value) SELECT 'columns_backfill', 'pending' WHERE EXISTS (SELECT 1 FROM events);

-- The store is the authority on the log's order, whoever writes: every insert takes the
-- next position, and a stream's next version, or the whole transaction is refused.
CREATE TRIGGER IF NOT EXISTS events_next_position BEFORE INSERT ON events
WHEN NEW.position IS NOT (SELECT COALESCE(MAX(position), 0) + 1 FROM events)
BEGIN
    SELECT RAISE(ABORT, 'keyledger: position is not the next one in the log');
END;
CREATE TRIGGER IF NOT EXISTS events_next_stream_version BEFORE INSERT ON events
WHEN NEW.stream IS NOT NULL AND NEW.stream_version IS NOT
     (SELECT COALESCE(MAX(stream_version), 0) + 1 FROM events WHERE stream = NEW.stream)
BEGIN
    SELECT RAISE(ABORT, 'keyledger: stream version is not the next one in its stream');
END;

-- Where each read model stands, updated in the same transaction as the model's tables.
CREATE TABLE IF NOT EXISTS read_model_checkpoints (
    name     TEXT PRIMARY KEY,
    position INTEGER NOT NULL
);

-- Read model `key_usage` (docs/read-models.md): per key, its last successful cryptographic
-- operation, and counts of calls by operation.
CREATE TABLE IF NOT EXISTS key_usage (
    key_id         TEXT PRIMARY KEY,
    last_used_at   TEXT,     -- RFC 3339 time of the last successful cryptographic operation
    last_operation TEXT,     -- its operation (Encrypt, Sign, …)
    last_event_id  TEXT,     -- its event id (the CloudTrail eventID)
    last_position  INTEGER   -- its ledger position
);
CREATE TABLE IF NOT EXISTS key_usage_by_operation (
    key_id    TEXT NOT NULL,
    operation TEXT NOT NULL,
    succeeded INTEGER NOT NULL,
    failed    INTEGER NOT NULL,
    PRIMARY KEY (key_id, operation)
) WITHOUT ROWID;

-- Lifecycle events in log order without scanning the usage events: what the in-memory
-- projections are rebuilt from at start-up.
CREATE INDEX IF NOT EXISTS events_lifecycle ON events (position) WHERE stream IS NOT NULL;

-- Superseded by sqlx's own _sqlx_migrations.
DROP TABLE IF EXISTS schema_migrations;
