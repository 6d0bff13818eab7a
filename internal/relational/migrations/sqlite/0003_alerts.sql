-- 0003: alerts, and every message sent about them.
--
-- An alert is open from when its rule's condition starts to hold until it
-- stops. At most one alert per (rule, tenant, subject) is open at a time, so a
-- condition fires once and resolves once however often it is evaluated. Each
-- change queues one delivery per channel in the same transaction; a delivery
-- stays pending until its channel takes it (or it is given up), and every
-- attempt at it is logged.

CREATE TABLE alerts (
    id          INTEGER PRIMARY KEY,
    rule        TEXT    NOT NULL,               -- the rule's name in the config
    tenant      TEXT    NOT NULL DEFAULT '',    -- the Entra tenant ID; '' for a fleet-wide alert
    subject     TEXT    NOT NULL DEFAULT '',    -- the control (controlName) of a control alert; else ''
    tenant_name TEXT    NOT NULL DEFAULT '',    -- the tenant's name when it fired
    title       TEXT    NOT NULL,               -- the firing message's title, summary and facts
    summary     TEXT    NOT NULL,
    facts       TEXT    NOT NULL,               -- JSON array of {"name", "value"}
    opened_at   INTEGER NOT NULL,               -- unix nanoseconds
    resolved_at INTEGER                         -- NULL while open
);

-- The open alerts: one per key, and what every evaluation reads.
CREATE UNIQUE INDEX alerts_open ON alerts (rule, tenant, subject) WHERE resolved_at IS NULL;

CREATE TABLE alert_deliveries (
    id          INTEGER PRIMARY KEY,
    alert       INTEGER NOT NULL REFERENCES alerts (id),
    channel     TEXT    NOT NULL,               -- the channel's name in the config
    message     TEXT    NOT NULL,               -- JSON of alert.Message, as rendered when queued
    created_at  INTEGER NOT NULL,               -- unix nanoseconds
    status      TEXT    NOT NULL DEFAULT 'pending', -- pending, delivered or expired
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT    NOT NULL DEFAULT '',    -- never holds a secret
    finished_at INTEGER,                        -- when delivered or expired
    lease_owner TEXT    NOT NULL DEFAULT '',    -- the engine sending it now
    lease_until INTEGER NOT NULL DEFAULT 0      -- unix nanoseconds; 0 when not leased
);

-- The queue; tiny.
CREATE INDEX alert_deliveries_pending ON alert_deliveries (id) WHERE status = 'pending';

CREATE TABLE alert_attempts (
    delivery INTEGER NOT NULL REFERENCES alert_deliveries (id),
    n        INTEGER NOT NULL,                  -- 1, 2, 3 ... within the delivery
    at       INTEGER NOT NULL,                  -- unix nanoseconds
    took     INTEGER NOT NULL,                  -- nanoseconds
    error    TEXT    NOT NULL DEFAULT '',       -- '' when the channel took the message
    PRIMARY KEY (delivery, n)
) WITHOUT ROWID;
