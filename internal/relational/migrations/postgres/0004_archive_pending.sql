-- 0004: the days whose raw snapshot could not be archived yet; the next
-- collection of the tenant fetches them again and retries.
CREATE TABLE archive_pending (
    tenant integer NOT NULL REFERENCES tenants (id),
    day    integer NOT NULL,                 -- fleetscore.Day.Unix()
    error  text    NOT NULL DEFAULT '',      -- why the last attempt failed
    PRIMARY KEY (tenant, day)
);
