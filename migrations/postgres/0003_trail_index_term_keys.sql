-- Read model `trail_index` keyed by each term's 64-bit key (`ledger::trail::term_key`)
-- instead of its text, as in SQLite (migrations/sqlite/0007_trail_index_term_keys.sql,
-- docs/decisions/0010-trail-index.md); the model is rebuilt from the log at the next start.
DROP TABLE IF EXISTS trail_index;
CREATE TABLE trail_index (
    term_key BIGINT NOT NULL,
    time_ns  BIGINT NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (term_key, time_ns, position)
);
-- The events since the last multiple of 1024 positions, staged in position order (each commit
-- adds at the table's right edge), moved to `trail_index` a block at a time
-- (`projections::trail_index::FOLD_EVERY`). Queries read both.
CREATE TABLE trail_recent (
    position BIGINT NOT NULL,
    term_key BIGINT NOT NULL,
    time_ns  BIGINT NOT NULL,
    PRIMARY KEY (position, term_key)
);
DELETE FROM read_model_checkpoints WHERE name = 'trail_index';
