-- Billing and compliance (docs/read-models.md, docs/decisions/0011-billing-and-compliance.md).

-- Who called, as the hashed JSON says (`replay::columns`; `keyledger verify` checks them):
-- what the billing and compliance models are rebuilt from without parsing every event.
ALTER TABLE events ADD COLUMN account TEXT;    -- the calling account (userIdentity.accountId, or the lifecycle actor's)
ALTER TABLE events ADD COLUMN principal TEXT;  -- the calling principal's ARN; NULL for the service itself and unknown callers
-- A ledger written before these columns has them filled from the JSON at the next start.
INSERT INTO ledger_meta (key, value) SELECT 'caller_columns_backfill', 'pending' WHERE EXISTS (SELECT 1 FROM events);

-- Read model `billing`: requests per calling account, UTC day, key, operation and outcome,
-- and the facts about each key that its monthly charge and price class come from. Prices
-- are not stored: the report applies the operator's price table (config) to these counts.
CREATE TABLE IF NOT EXISTS billing_requests (
    account   TEXT NOT NULL,     -- the calling account (charged for the request)
    day       TEXT NOT NULL,     -- YYYY-MM-DD, UTC, of the CloudTrail eventTime
    key_id    TEXT NOT NULL,     -- the first key the request named; '' for none (ListKeys, …)
    operation TEXT NOT NULL,     -- the API operation
    pair_spec TEXT NOT NULL,     -- GenerateDataKeyPair*: the family of the KeyPairSpec asked for (RSA, ECC), its price; '' otherwise
    outcome   TEXT NOT NULL,     -- 'succeeded', 'denied' (AccessDeniedException) or 'failed'
    requests  INTEGER NOT NULL,
    PRIMARY KEY (account, day, key_id, operation, pair_spec, outcome)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS billing_keys (
    key_id      TEXT PRIMARY KEY,
    account     TEXT NOT NULL,   -- the key's account (charged for the key)
    key_spec    TEXT NOT NULL,
    key_manager TEXT NOT NULL,   -- CUSTOMER or AWS (AWS-managed keys are not charged)
    created_s   INTEGER NOT NULL -- CreateKey's eventTime, Unix seconds
) WITHOUT ROWID;
-- What changes a key's monthly charge: rotations and deletion, in log order.
CREATE TABLE IF NOT EXISTS billing_key_changes (
    key_id   TEXT NOT NULL,
    seq      INTEGER NOT NULL,   -- the event's ledger position (an export's record order)
    time_s   INTEGER NOT NULL,   -- eventTime, Unix seconds
    change   TEXT NOT NULL,      -- 'rotated', 'deletion_scheduled', 'deletion_cancelled' or 'deleted'
    PRIMARY KEY (key_id, seq)
) WITHOUT ROWID;

-- Read model `compliance`: every lifecycle fact about a key (what the inventory, rotation,
-- deletion and policy history are folded from, up to any time), and requests per day,
-- calling principal, key and outcome.
CREATE TABLE IF NOT EXISTS compliance_key_events (
    key_id     TEXT NOT NULL,
    position   INTEGER NOT NULL,  -- the event's ledger position
    time_ns    INTEGER NOT NULL,
    event_type TEXT NOT NULL,     -- KeyCreated, KeyEnabled, KeyDisabled, KeyPolicyPut, KeyRotated, …
    account    TEXT,              -- who did it
    principal  TEXT,
    detail     TEXT NOT NULL,     -- JSON: what the report needs of the fact (spec, policy, dates; never material)
    PRIMARY KEY (key_id, position)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS compliance_requests (
    day           INTEGER NOT NULL,  -- Unix day (time_ns / 86400e9) of the call, UTC
    account       TEXT NOT NULL,     -- the calling account; '-' when unknown (authentication failed)
    principal     TEXT NOT NULL,     -- the calling principal's ARN; '-' when none
    key_id        TEXT NOT NULL,     -- each key the call named; '' for none
    cryptographic INTEGER NOT NULL,  -- 1 for a cryptographic operation (a key's "use"), else 0
    outcome       TEXT NOT NULL,     -- 'succeeded', 'denied' or 'failed'
    requests      INTEGER NOT NULL,
    PRIMARY KEY (day, account, principal, key_id, cryptographic, outcome)
) WITHOUT ROWID;
