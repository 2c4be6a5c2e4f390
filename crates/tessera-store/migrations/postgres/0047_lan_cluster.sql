-- A LAN license server on PostgreSQL (`tessera server --database-url`), with one or more
-- nodes: the server's key pair and admin token live here, made once by the first node
-- (one row, id 1), so every node signs with the same key and takes the same token. The
-- registration key is derived from the key and the cluster's system identifier; the
-- policy is the `lan` realm's row in `realms`.
CREATE TABLE lan_identity (
    id          SMALLINT NOT NULL PRIMARY KEY CHECK (id = 1),
    secret_key  TEXT     NOT NULL,
    admin_token TEXT     NOT NULL,
    created_at  BIGINT   NOT NULL
);
