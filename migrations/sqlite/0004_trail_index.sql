-- Read model `trail_index` (docs/read-models.md): every usage event (CloudTrail record) filed
-- under the terms a trail query can name, each prefixed with the event's account and region:
-- `<account>/<region>/k:<key id>`, `n:<EventName>`, `p:<principal ARN>`, `a:<access key id>`,
-- `u:<user name>`, `e:<error code>`, `r:true|false`, `i:<event id>`, `t:<resource type>`, and
-- `*` (every event). The primary key orders each term's events by time, then position, so
-- "this key's events between two times, newest first" is one backwards range of the index.
CREATE TABLE IF NOT EXISTS trail_index (
    term     TEXT NOT NULL,
    time_ns  INTEGER NOT NULL,   -- the event's time (events.time_ns)
    position INTEGER NOT NULL,   -- the event's ledger position (events.position)
    PRIMARY KEY (term, time_ns, position)
) WITHOUT ROWID;
