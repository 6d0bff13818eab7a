-- 0001: the whole schema of the first release.
--
-- History is kept small: under 1 KB per tenant-day where Graph's JSON is
-- 25-100 KB. Tenants and control names are integers everywhere but in their
-- own tables, a day is an INTEGER (days since 1970-01-01), one row per tenant
-- per day holds the totals, and control scores are stored as changes only
-- (typically 1-3 % of a tenant's ~250 controls change from one day to the next).

-- Every tenant ever configured, collected or logged; never deleted.
CREATE TABLE tenants (
    id               INTEGER PRIMARY KEY,
    guid             TEXT    NOT NULL UNIQUE,   -- the Entra tenant ID
    name             TEXT    NOT NULL DEFAULT '',
    target_percent   REAL    NOT NULL DEFAULT 0,
    -- enabledServices of the newest day only (JSON array, NULL when empty):
    -- it barely changes and nobody charts it.
    enabled_services TEXT,
    services_day     INTEGER                    -- the day enabled_services came from
);

-- The dictionary of control names (controlName, the control profile's id),
-- shared by all tenants.
CREATE TABLE controls (
    id   INTEGER PRIMARY KEY,
    name TEXT    NOT NULL UNIQUE
);

-- One row per tenant per day: the snapshot's totals.
CREATE TABLE scores (
    tenant             INTEGER NOT NULL REFERENCES tenants (id),
    day                INTEGER NOT NULL,        -- fleetscore.Day.Unix()
    current_score      REAL    NOT NULL,
    max_score          REAL    NOT NULL,
    percent            REAL    NOT NULL,        -- current_score / max_score * 100 of this row
    active_users       INTEGER NOT NULL,
    licensed_users     INTEGER NOT NULL,
    avg_all_tenants    REAL,                    -- comparative averages, NULL when Graph sent none
    avg_total_seats    REAL,
    avg_industry_types REAL,
    PRIMARY KEY (tenant, day)
) WITHOUT ROWID;

-- A control's category, once per tenant and control (that of the newest day saved).
CREATE TABLE tenant_controls (
    tenant   INTEGER NOT NULL REFERENCES tenants (id),
    control  INTEGER NOT NULL REFERENCES controls (id),
    category TEXT    NOT NULL,
    PRIMARY KEY (tenant, control)
) WITHOUT ROWID;

-- Control scores as changes: the score of a control from that day on, NULL
-- when the control is absent from that day on. The controls of day D are, for
-- each control, the latest row with day <= D, unless its score is NULL.
CREATE TABLE control_changes (
    tenant  INTEGER NOT NULL,
    control INTEGER NOT NULL,
    day     INTEGER NOT NULL,
    score   REAL,
    PRIMARY KEY (tenant, control, day),
    FOREIGN KEY (tenant, control) REFERENCES tenant_controls (tenant, control)
) WITHOUT ROWID;

-- The current control profile (recommended action) per tenant and control.
-- A rowid table: remediation text makes rows too large for WITHOUT ROWID.
CREATE TABLE profiles (
    id                  INTEGER PRIMARY KEY,
    tenant              INTEGER NOT NULL REFERENCES tenants (id),
    control             INTEGER NOT NULL REFERENCES controls (id),
    title               TEXT    NOT NULL,
    category            TEXT    NOT NULL,
    max_score           REAL    NOT NULL,
    rank                INTEGER NOT NULL,
    tier                TEXT    NOT NULL,
    user_impact         TEXT    NOT NULL,
    implementation_cost TEXT    NOT NULL,
    action_type         TEXT    NOT NULL,
    action_url          TEXT    NOT NULL,
    service             TEXT    NOT NULL,
    threats             TEXT    NOT NULL,       -- JSON array of strings
    deprecated          INTEGER NOT NULL,       -- 0 or 1
    remediation         TEXT    NOT NULL,
    removed             INTEGER NOT NULL DEFAULT 0, -- 1 when the last full list lacked it
    UNIQUE (tenant, control)
);

-- Every distinct controlStateUpdates entry ever seen; id order is the order
-- they were first seen, which is Graph's (oldest first).
CREATE TABLE control_states (
    id          INTEGER PRIMARY KEY,
    tenant      INTEGER NOT NULL REFERENCES tenants (id),
    control     INTEGER NOT NULL REFERENCES controls (id),
    updated_at  INTEGER NOT NULL,               -- unix nanoseconds, 0 when Graph sent null
    state       TEXT    NOT NULL,
    assigned_to TEXT    NOT NULL,
    comment     TEXT    NOT NULL,
    updated_by  TEXT    NOT NULL,
    UNIQUE (tenant, control, updated_at, state, assigned_to, comment, updated_by)
);

-- The collection log.
CREATE TABLE collections (
    id          INTEGER PRIMARY KEY,
    tenant      INTEGER NOT NULL REFERENCES tenants (id),
    started_at  INTEGER,                        -- unix nanoseconds
    finished_at INTEGER,                        -- NULL while running
    status      TEXT    NOT NULL,
    error       TEXT    NOT NULL DEFAULT '',
    advice      TEXT    NOT NULL DEFAULT '',
    days        INTEGER NOT NULL DEFAULT 0,
    controls    INTEGER NOT NULL DEFAULT 0,
    requests    INTEGER NOT NULL DEFAULT 0
);

-- The newest collection of a tenant (Tenants, Collections by tenant).
CREATE INDEX collections_by_tenant ON collections (tenant, id);

-- The collections still running, to mark them interrupted; tiny.
CREATE INDEX collections_running ON collections (tenant) WHERE status = 'running';
