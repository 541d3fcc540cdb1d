-- Read model `trail_index` keyed by each term's 64-bit key (`ledger::trail::term_key`, the
-- first 64 bits of the term's BLAKE3 hash) instead of its text (docs/decisions/0010-trail-index.md):
-- a row is about a third as long, so a commit splits far fewer of the index's pages. The
-- index proposes events; each is checked against the query's terms before it is answered.
-- The old table's rows cannot be converted in SQL (no BLAKE3 here): the model loses its
-- checkpoint, so the ledger's next start rebuilds it from the log.
DROP TABLE IF EXISTS trail_index;
CREATE TABLE trail_index (
    term_key INTEGER NOT NULL,   -- term_key(term), the term as in 0004_trail_index.sql
    time_ns  INTEGER NOT NULL,   -- the event's time (events.time_ns)
    position INTEGER NOT NULL,   -- the event's ledger position (events.position)
    PRIMARY KEY (term_key, time_ns, position)
) WITHOUT ROWID;
-- The events since the last multiple of 1024 positions, staged in position order (each commit
-- adds at the table's right edge), moved to `trail_index` a block at a time
-- (`projections::trail_index::FOLD_EVERY`). Queries read both.
CREATE TABLE trail_recent (
    position INTEGER NOT NULL,
    term_key INTEGER NOT NULL,
    time_ns  INTEGER NOT NULL,
    PRIMARY KEY (position, term_key)
) WITHOUT ROWID;
DELETE FROM read_model_checkpoints WHERE name = 'trail_index';
