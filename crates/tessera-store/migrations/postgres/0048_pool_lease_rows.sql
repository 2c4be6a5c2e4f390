-- How many leases and borrows each pool has on disk, lapsed or not: kept by every
-- checkout and every end in the same transaction. It is never below the seats the pool's
-- live leases hold, so a checkout that finds it below the pool's seats grants without
-- counting the holders (a count that grew with the live leases).
CREATE TABLE pool_lease_rows (
    realm   TEXT    NOT NULL,
    pool_id TEXT    NOT NULL,
    n       BIGINT  NOT NULL,
    PRIMARY KEY (realm, pool_id)
);
INSERT INTO pool_lease_rows (realm, pool_id, n)
    SELECT realm, pool_id, COUNT(*) FROM leases GROUP BY realm, pool_id;
