-- How many leases and borrows each pool has on disk, lapsed or not, kept by triggers on
-- every insert and delete. It is never below the seats the pool's live leases hold, so
-- a checkout that finds it below the pool's seats grants without counting the holders
-- (a count that grew with the live leases).
CREATE TABLE pool_lease_rows (
    realm   TEXT    NOT NULL,
    pool_id TEXT    NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (realm, pool_id)
);
INSERT INTO pool_lease_rows (realm, pool_id, n)
    SELECT realm, pool_id, COUNT(*) FROM leases GROUP BY realm, pool_id;

CREATE TRIGGER pool_lease_rows_insert AFTER INSERT ON leases BEGIN
    INSERT OR IGNORE INTO pool_lease_rows (realm, pool_id, n) VALUES (NEW.realm, NEW.pool_id, 0);
    UPDATE pool_lease_rows SET n = n + 1 WHERE realm = NEW.realm AND pool_id = NEW.pool_id;
END;

CREATE TRIGGER pool_lease_rows_delete AFTER DELETE ON leases BEGIN
    UPDATE pool_lease_rows SET n = n - 1 WHERE realm = OLD.realm AND pool_id = OLD.pool_id;
END;
