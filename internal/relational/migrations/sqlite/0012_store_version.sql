-- 0012: the store's version (issue 17): two counters that move with every
-- write the fleet views read, so that a server (or several sharing one
-- database) knows with one primary-key read whether the fleet model it
-- holds is still current. collections moves with the collection log (a
-- collection's scores and profiles are saved before it finishes); changes
-- with the register of exceptions and with tenants sync (SyncTenants bumps
-- it in its own transaction). Only these few small rows are touched by the
-- triggers, never the history's.

CREATE TABLE store_version (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    collections INTEGER NOT NULL,
    changes     INTEGER NOT NULL
);
INSERT INTO store_version (id, collections, changes) VALUES (1, 0, 0);

CREATE TRIGGER store_version_collections_insert AFTER INSERT ON collections
BEGIN UPDATE store_version SET collections = collections + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_collections_update AFTER UPDATE ON collections
BEGIN UPDATE store_version SET collections = collections + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_collections_delete AFTER DELETE ON collections
BEGIN UPDATE store_version SET collections = collections + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_exceptions_insert AFTER INSERT ON exceptions
BEGIN UPDATE store_version SET changes = changes + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_exceptions_update AFTER UPDATE ON exceptions
BEGIN UPDATE store_version SET changes = changes + 1 WHERE id = 1; END;
CREATE TRIGGER store_version_exceptions_delete AFTER DELETE ON exceptions
BEGIN UPDATE store_version SET changes = changes + 1 WHERE id = 1; END;
