-- 0002: claims, so that several collectors sharing one database collect each
-- tenant once a day (as sqlite/migrations/0002).
--
-- A claim is a lease: the owner collects the tenant's day until expires_at
-- (the database's clock), renewing it while it works. A claim that expires
-- (its owner died) can be taken by another owner; a done claim is never taken
-- again; a released one (expires_at 0) can be taken at once. Claims older
-- than a month are pruned.
CREATE TABLE claims (
    tenant     text COLLATE "C" NOT NULL,           -- the Entra tenant ID
    day        integer          NOT NULL,           -- fleetscore.Day.Unix()
    owner      text             NOT NULL,           -- the collector instance holding it
    expires_at bigint           NOT NULL,           -- unix nanoseconds
    done       boolean          NOT NULL DEFAULT false,
    PRIMARY KEY (tenant, day)
);
