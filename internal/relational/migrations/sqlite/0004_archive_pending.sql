-- 0004: the days whose raw snapshot could not be archived yet; the next
-- collection of the tenant fetches them again and retries.
CREATE TABLE archive_pending (
    tenant INTEGER NOT NULL REFERENCES tenants (id),
    day    INTEGER NOT NULL,                 -- fleetscore.Day.Unix()
    error  TEXT    NOT NULL DEFAULT '',      -- why the last attempt failed
    PRIMARY KEY (tenant, day)
) WITHOUT ROWID;
