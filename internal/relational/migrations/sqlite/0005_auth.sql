-- 0005: sign-in. Local users, browser sessions and API tokens (only the
-- SHA-256 of a session ID or token is kept), failed sign-ins for the
-- lockout, and the audit log. A tenant list is comma-separated GUIDs.
CREATE TABLE users (
    name          TEXT    PRIMARY KEY,
    role          TEXT    NOT NULL,
    tenants       TEXT    NOT NULL DEFAULT '',
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL          -- Unix seconds
);

CREATE TABLE sessions (
    id_hash    TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    role       TEXT    NOT NULL,
    tenants    TEXT    NOT NULL DEFAULT '',
    csrf       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL
);
CREATE INDEX sessions_name ON sessions (name);

CREATE TABLE api_tokens (
    public_id  TEXT    PRIMARY KEY,      -- what list and revoke name; not a secret
    hash       TEXT    NOT NULL UNIQUE,
    role       TEXT    NOT NULL,
    tenants    TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL DEFAULT 0,  -- 0: never
    last_used  INTEGER NOT NULL DEFAULT 0,  -- 0: never
    revoked    INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE signin_failures (
    key TEXT    NOT NULL,                   -- user:NAME or ip:ADDR
    at  INTEGER NOT NULL
);
CREATE INDEX signin_failures_key ON signin_failures (key, at);

CREATE TABLE audit_log (
    id     INTEGER PRIMARY KEY,
    at     INTEGER NOT NULL,
    actor  TEXT    NOT NULL,
    action TEXT    NOT NULL,
    detail TEXT    NOT NULL DEFAULT '',
    ip     TEXT    NOT NULL DEFAULT ''
);
