-- A client id identifies a lease together with its user and host: a client id guessed or
-- reused by someone else finds nothing of theirs (and ends nothing of theirs).
DROP INDEX leases_by_client;
CREATE UNIQUE INDEX leases_by_client ON leases (realm, kind, client_id, product, user_name, host);
