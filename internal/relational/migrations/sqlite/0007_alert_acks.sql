-- 0007: why an alert fired, who is on it, and where each tenant's alerts
-- start (issue 13).
--
-- reason is the firing message's reason (the change ledger's top items).
-- An acknowledged alert stays open but quiet: ack_at is set, with who and
-- their note. A tenant's baseline is the day its first collection (the
-- backfill of its history) ended on: the change rules read no day before it,
-- so history fires nothing.

ALTER TABLE alerts ADD COLUMN reason   TEXT    NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN ack_at   INTEGER;                 -- unix nanoseconds; NULL when not acknowledged
ALTER TABLE alerts ADD COLUMN ack_by   TEXT    NOT NULL DEFAULT '';
ALTER TABLE alerts ADD COLUMN ack_note TEXT    NOT NULL DEFAULT '';

-- The alerts page: the newest first.
CREATE INDEX alerts_by_opened ON alerts (opened_at);

CREATE TABLE alert_baselines (
    tenant TEXT    PRIMARY KEY,   -- the Entra tenant ID
    day    INTEGER NOT NULL       -- days since 1970-01-01
) WITHOUT ROWID;
