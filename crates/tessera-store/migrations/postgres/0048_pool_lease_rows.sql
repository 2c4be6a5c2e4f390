-- How many leases and borrows each pool has on disk, lapsed or not, kept by a trigger on
-- every insert and delete. It is never below the seats the pool's live leases hold, so
-- a checkout that finds it below the pool's seats grants without counting the holders
-- (a count that grew with the live leases).
CREATE TABLE pool_lease_rows (
    realm   TEXT   NOT NULL,
    pool_id TEXT   NOT NULL,
    n       BIGINT NOT NULL,
    PRIMARY KEY (realm, pool_id)
);
INSERT INTO pool_lease_rows (realm, pool_id, n)
    SELECT realm, pool_id, COUNT(*) FROM leases GROUP BY realm, pool_id;

CREATE FUNCTION count_pool_lease_rows() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO pool_lease_rows (realm, pool_id, n) VALUES (NEW.realm, NEW.pool_id, 1)
            ON CONFLICT (realm, pool_id) DO UPDATE SET n = pool_lease_rows.n + 1;
        RETURN NEW;
    END IF;
    UPDATE pool_lease_rows SET n = n - 1 WHERE realm = OLD.realm AND pool_id = OLD.pool_id;
    RETURN OLD;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER pool_lease_rows_count AFTER INSERT OR DELETE ON leases
    FOR EACH ROW EXECUTE FUNCTION count_pool_lease_rows();
