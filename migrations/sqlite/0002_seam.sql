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

-- The store is the authority on the log's order, whoever writes. Hard backstops for every
-- writer: one row per position (the primary key) and one per stream version (the unique
-- index above), so two writers can never fork the chain or both take a version. And every
-- append checks, in its own transaction, that it starts right after the head and that each
-- stream it touches is where it expects: it inserts its first position into `append_guard`
-- and each stream's first version into `stream_guard`, views whose triggers refuse anything
-- else (views have no storage: the checks cost no page writes; row triggers on `events`
-- would cost a trigger program per row).
CREATE VIEW IF NOT EXISTS append_guard (next_position) AS SELECT NULL WHERE 0;
CREATE TRIGGER IF NOT EXISTS append_guard_check INSTEAD OF INSERT ON append_guard
WHEN NEW.next_position IS NOT (SELECT COALESCE(MAX(position), 0) + 1 FROM events)
BEGIN
    SELECT RAISE(ABORT, 'keyledger: the append does not start at the next position of the log');
END;
CREATE VIEW IF NOT EXISTS stream_guard (stream, next_version) AS SELECT NULL, NULL WHERE 0;
CREATE TRIGGER IF NOT EXISTS stream_guard_check INSTEAD OF INSERT ON stream_guard
WHEN NEW.next_version IS NOT
     (SELECT COALESCE(MAX(stream_version), 0) + 1 FROM events WHERE stream = NEW.stream)
BEGIN
    SELECT RAISE(ABORT, 'keyledger: a stream is not at the version the append expects');
END;

-- Where each read model stands, updated in the same transaction as the model's tables.
CREATE TABLE IF NOT EXISTS read_model_checkpoints (
    name     TEXT PRIMARY KEY,
    position INTEGER NOT NULL
);

-- Read model `key_usage` (docs/read-models.md): counts of the calls that named each key, by
-- operation and outcome, with each operation's last successful use; and, as a view over it,
-- each key's last successful cryptographic operation. One table, so a commit that uses a
-- key rewrites one page for the model, not two.
CREATE TABLE IF NOT EXISTS key_usage_by_operation (
    key_id        TEXT NOT NULL,
    operation     TEXT NOT NULL,
    succeeded     INTEGER NOT NULL,
    failed        INTEGER NOT NULL,
    last_used_at  TEXT,     -- RFC 3339 time of this operation's last successful call on the key
    last_event_id TEXT,     -- its event id (the CloudTrail eventID)
    last_position INTEGER,  -- its ledger position
    PRIMARY KEY (key_id, operation)
) WITHOUT ROWID;
-- Per key: its last successful cryptographic operation (NULLs when it has none).
CREATE VIEW IF NOT EXISTS key_usage (key_id, last_used_at, last_operation, last_event_id, last_position) AS
SELECT key_id,
       CASE WHEN crypto THEN last_used_at END,
       CASE WHEN crypto THEN operation END,
       CASE WHEN crypto THEN last_event_id END,
       CASE WHEN crypto THEN last_position END
FROM (
    SELECT key_id, operation, last_used_at, last_event_id, last_position,
           operation IN ('Decrypt', 'DeriveSharedSecret', 'Encrypt', 'GenerateDataKey',
                         'GenerateDataKeyPair', 'GenerateDataKeyPairWithoutPlaintext',
                         'GenerateDataKeyWithoutPlaintext', 'GenerateMac', 'ReEncrypt', 'Sign',
                         'Verify', 'VerifyMac') AND last_position IS NOT NULL AS crypto,
           ROW_NUMBER() OVER (
               PARTITION BY key_id
               ORDER BY operation IN ('Decrypt', 'DeriveSharedSecret', 'Encrypt', 'GenerateDataKey',
                         'GenerateDataKeyPair', 'GenerateDataKeyPairWithoutPlaintext',
                         'GenerateDataKeyWithoutPlaintext', 'GenerateMac', 'ReEncrypt', 'Sign',
                         'Verify', 'VerifyMac') AND last_position IS NOT NULL DESC,
                        last_position DESC
           ) AS rank
    FROM key_usage_by_operation
) WHERE rank = 1;

-- Lifecycle events in log order without scanning the usage events: what the in-memory
-- projections are rebuilt from at start-up.
CREATE INDEX IF NOT EXISTS events_lifecycle ON events (position) WHERE stream IS NOT NULL;

-- Superseded by sqlx's own _sqlx_migrations.
DROP TABLE IF EXISTS schema_migrations;
