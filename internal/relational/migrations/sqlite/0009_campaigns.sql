-- 0009: campaigns (issue 15): one recommended action rolled out to many
-- tenants, with an owner, a due date and a note per tenant. Statuses are
-- not kept: they are derived each day from the collected scores.

CREATE TABLE campaigns (
    id          INTEGER PRIMARY KEY,
    control     TEXT    NOT NULL,               -- the control profile's id (controlName)
    owner       TEXT    NOT NULL,
    due         INTEGER NOT NULL,               -- days since 1970-01-01
    created_by  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL                -- unix nanoseconds
);

CREATE TABLE campaign_tenants (
    campaign    INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,               -- the order the tenants were given in
    tenant      TEXT    NOT NULL,               -- the Entra tenant ID
    note        TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (campaign, tenant)
);

CREATE INDEX campaign_tenants_by_tenant ON campaign_tenants (tenant);
