-- The PostgreSQL ledger: the same tables as the SQLite ledger's migrations 0001-0005 (see
-- those files for what each column means), in one migration, in PostgreSQL's types.
-- docs/decisions/0012-postgresql-ledger.md says how several nodes share it.

-- The ledger: append-only, hash-chained. `data` is the event envelope's JSON exactly as
-- hashed; the other columns index it (`keyledger verify` checks they agree).
CREATE TABLE events (
    position       BIGINT PRIMARY KEY,
    stream         TEXT,
    stream_version BIGINT,
    event_name     TEXT NOT NULL,
    data           BYTEA NOT NULL,
    hash           BYTEA NOT NULL,
    event_id       TEXT,
    time_ns        BIGINT,
    keys           TEXT,
    error_code     TEXT,
    account        TEXT,
    principal      TEXT
);
-- Optimistic concurrency's last line of defence: one event per (stream, version), whichever
-- node appends (the batch's advisory lock and version check come first).
CREATE UNIQUE INDEX events_by_stream ON events (stream, stream_version) WHERE stream IS NOT NULL;
CREATE UNIQUE INDEX events_event_id ON events (event_id);
-- Lifecycle events in log order without scanning usage events: projections are rebuilt and
-- nodes tail other nodes' lifecycle events from it.
CREATE INDEX events_lifecycle ON events (position) WHERE stream IS NOT NULL;

-- The one mutable table: per-key shredding keys, wrapped by the root key. Deleting a row
-- crypto-shreds the key (docs/decisions/0012-postgresql-ledger.md: what that guarantees here).
CREATE TABLE shredding_keys (
    key_id  TEXT PRIMARY KEY,
    wrapped BYTEA NOT NULL
);

CREATE TABLE ledger_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE read_model_checkpoints (
    name     TEXT PRIMARY KEY,
    position BIGINT NOT NULL
);

-- Read model `key_usage` (docs/read-models.md).
CREATE TABLE key_usage_by_operation (
    key_id        TEXT NOT NULL,
    operation     TEXT NOT NULL,
    succeeded     BIGINT NOT NULL,
    failed        BIGINT NOT NULL,
    last_used_at  TEXT,
    last_event_id TEXT,
    last_position BIGINT,
    PRIMARY KEY (key_id, operation)
);
CREATE VIEW key_usage (key_id, last_used_at, last_operation, last_event_id, last_position) AS
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
) AS ranked WHERE rank = 1;

-- The trail's evidence (docs/decisions/0009-trail-evidence.md).
CREATE TABLE trail_hashes (
    level BIGINT NOT NULL,
    idx   BIGINT NOT NULL,
    hash  BYTEA NOT NULL,
    PRIMARY KEY (level, idx)
);
CREATE TABLE trail_checkpoints (
    tree_size  BIGINT PRIMARY KEY,
    root_hash  BYTEA NOT NULL,
    note       TEXT NOT NULL,
    created_ns BIGINT NOT NULL
);

-- Read model `trail_index`.
CREATE TABLE trail_index (
    term     TEXT NOT NULL,
    time_ns  BIGINT NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (term, time_ns, position)
);

-- Read model `billing`.
CREATE TABLE billing_requests (
    account   TEXT NOT NULL,
    day       TEXT NOT NULL,
    key_id    TEXT NOT NULL,
    operation TEXT NOT NULL,
    pair_spec TEXT NOT NULL,
    outcome   TEXT NOT NULL,
    requests  BIGINT NOT NULL,
    PRIMARY KEY (account, day, key_id, operation, pair_spec, outcome)
);
CREATE TABLE billing_keys (
    key_id      TEXT PRIMARY KEY,
    account     TEXT NOT NULL,
    key_spec    TEXT NOT NULL,
    key_manager TEXT NOT NULL,
    created_s   BIGINT NOT NULL
);
CREATE TABLE billing_key_changes (
    key_id TEXT NOT NULL,
    seq    BIGINT NOT NULL,
    time_s BIGINT NOT NULL,
    change TEXT NOT NULL,
    PRIMARY KEY (key_id, seq)
);

-- Read model `compliance`.
CREATE TABLE compliance_key_events (
    key_id     TEXT NOT NULL,
    position   BIGINT NOT NULL,
    time_ns    BIGINT NOT NULL,
    event_type TEXT NOT NULL,
    account    TEXT,
    principal  TEXT,
    detail     TEXT NOT NULL,
    PRIMARY KEY (key_id, position)
);
CREATE TABLE compliance_requests (
    day           BIGINT NOT NULL,
    account       TEXT NOT NULL,
    principal     TEXT NOT NULL,
    key_id        TEXT NOT NULL,
    cryptographic BIGINT NOT NULL,
    outcome       TEXT NOT NULL,
    requests      BIGINT NOT NULL,
    PRIMARY KEY (day, account, principal, key_id, cryptographic, outcome)
);
