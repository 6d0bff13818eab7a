-- 0012: the store's version (issue 17; as sqlite/migrations/0012): two
-- counters that move with every write the fleet views read, so that a
-- server (or several sharing one database) knows with one primary-key read
-- whether the fleet model it holds is still current. collections moves
-- with the collection log (a collection's scores and profiles are saved
-- before it finishes); changes with the register of exceptions and with
-- tenants sync (SyncTenants bumps it in its own transaction). The triggers
-- are per statement and touch only this row, never the history's.

CREATE TABLE store_version (
    id          integer PRIMARY KEY CHECK (id = 1),
    collections bigint  NOT NULL,
    changes     bigint  NOT NULL
);
INSERT INTO store_version (id, collections, changes) VALUES (1, 0, 0);

CREATE FUNCTION store_version_collections() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE store_version SET collections = collections + 1 WHERE id = 1;
    RETURN NULL;
END $$;

CREATE FUNCTION store_version_changes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE store_version SET changes = changes + 1 WHERE id = 1;
    RETURN NULL;
END $$;

CREATE TRIGGER store_version_collections AFTER INSERT OR UPDATE OR DELETE ON collections
    FOR EACH STATEMENT EXECUTE FUNCTION store_version_collections();
CREATE TRIGGER store_version_exceptions AFTER INSERT OR UPDATE OR DELETE ON exceptions
    FOR EACH STATEMENT EXECUTE FUNCTION store_version_changes();
