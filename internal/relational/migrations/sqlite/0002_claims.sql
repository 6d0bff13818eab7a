-- 0002: claims, so that several collectors sharing one database collect each
-- tenant once a day.
--
-- A claim is a lease: the owner collects the tenant's day until expires_at,
-- renewing it while it works. A claim that expires (its owner died) can be
-- taken by another owner; a done claim is never taken again; a released one
-- (expires_at 0) can be taken at once. Claims older than a month are pruned.
CREATE TABLE claims (
    tenant     TEXT    NOT NULL,                -- the Entra tenant ID
    day        INTEGER NOT NULL,                -- fleetscore.Day.Unix()
    owner      TEXT    NOT NULL,                -- the collector instance holding it
    expires_at INTEGER NOT NULL,                -- unix nanoseconds
    done       INTEGER NOT NULL DEFAULT 0,      -- 1 once the day was collected
    PRIMARY KEY (tenant, day)
) WITHOUT ROWID;
