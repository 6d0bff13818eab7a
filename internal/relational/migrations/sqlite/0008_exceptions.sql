-- 0008: the register of exceptions (issue 14): a control credited to a
-- third party, accepted as a risk or marked reviewed at one tenant, with
-- who, why and until when, and its status as Microsoft's data shows it.
-- One row per (tenant, control): applying again replaces it.

CREATE TABLE exceptions (
    id          INTEGER PRIMARY KEY,
    tenant      TEXT    NOT NULL,               -- the Entra tenant ID
    control     TEXT    NOT NULL,               -- the control profile's id (controlName)
    state       TEXT    NOT NULL,               -- ThirdParty, Ignored, Reviewed or Default
    reason      TEXT    NOT NULL,
    owner       TEXT    NOT NULL DEFAULT '',
    review_by   INTEGER NOT NULL,               -- days since 1970-01-01
    created_by  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,               -- unix nanoseconds
    status      TEXT    NOT NULL,               -- written, in_effect, local, refused, failed, drifted, expired, pending_approval
    error       TEXT    NOT NULL DEFAULT '',
    advice      TEXT    NOT NULL DEFAULT '',
    written_at  INTEGER,                        -- unix nanoseconds; NULL when nothing was written
    approved_by TEXT    NOT NULL DEFAULT '',
    updated_at  INTEGER NOT NULL                -- unix nanoseconds
);

CREATE UNIQUE INDEX exceptions_by_tenant ON exceptions (tenant, control);
CREATE INDEX exceptions_by_control ON exceptions (control);
