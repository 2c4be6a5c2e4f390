//! A LAN license server on PostgreSQL, several nodes on one database: the server's key
//! pair and admin token kept in the database (made once, by whichever node starts first),
//! and the identifier of the PostgreSQL cluster, which the registration key is bound to
//! as a single server's is bound to its machine.

use tessera_core::Millis;

use crate::{Backend, Store, StoreError};

/// Test-only: replaces the cluster's system identifier as read from the database, so a
/// test can stand for a dump restored into another cluster (one PostgreSQL cannot be two).
pub const SYSTEM_IDENTIFIER_OVERRIDE_ENV: &str = "TESSERA_TEST_PG_SYSTEM_IDENTIFIER";

/// The server's secrets as stored: the key pair's PASERK and the admin token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanSecrets {
    pub secret_key: String,
    pub admin_token: String,
}

impl Store {
    fn require_postgres(&self) -> Result<(), StoreError> {
        match self.backend {
            Backend::Postgres => Ok(()),
            Backend::Sqlite => Err(StoreError::Unsupported(
                "a LAN server keeps its identity in the database only on PostgreSQL",
            )),
        }
    }

    /// The stored secrets; when there are none yet, `made` is stored and returned. Two
    /// nodes starting at once both get the one that was stored first (the row's key is
    /// the lock).
    pub async fn lan_secrets_or_insert(
        &self,
        made: &LanSecrets,
        now: Millis,
    ) -> Result<LanSecrets, StoreError> {
        self.require_postgres()?;
        sqlx::query(
            "INSERT INTO lan_identity (id, secret_key, admin_token, created_at) \
             VALUES (1, $1, $2, $3) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&made.secret_key)
        .bind(&made.admin_token)
        .bind(now)
        .execute(&self.writer)
        .await?;
        let (secret_key, admin_token): (String, String) =
            sqlx::query_as("SELECT secret_key, admin_token FROM lan_identity WHERE id = 1")
                .fetch_one(&self.writer)
                .await?;
        Ok(LanSecrets {
            secret_key,
            admin_token,
        })
    }

    /// Replaces the admin token; nodes take the new one when they restart.
    pub async fn set_lan_admin_token(&self, token: &str) -> Result<bool, StoreError> {
        self.require_postgres()?;
        let done = sqlx::query("UPDATE lan_identity SET admin_token = $1 WHERE id = 1")
            .bind(token)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The PostgreSQL cluster's `system_identifier` (`pg_control_system()`): kept by a
    /// physical replica promoted after a failover, new in a cluster a dump is restored
    /// into. [`SYSTEM_IDENTIFIER_OVERRIDE_ENV`] replaces it, for tests.
    pub async fn cluster_system_identifier(&self) -> Result<String, StoreError> {
        self.require_postgres()?;
        if let Ok(id) = std::env::var(SYSTEM_IDENTIFIER_OVERRIDE_ENV)
            && !id.trim().is_empty()
        {
            return Ok(id.trim().to_owned());
        }
        let id: String =
            sqlx::query_scalar("SELECT system_identifier::text FROM pg_control_system()")
                .fetch_one(&self.db)
                .await?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::TestDatabase;

    use super::*;

    #[tokio::test]
    async fn the_first_secrets_stored_are_the_ones_every_node_gets() {
        let Some(db) = TestDatabase::create().await else {
            return;
        };
        let store = Store::open_url(&db.url).await.unwrap();
        let a = LanSecrets {
            secret_key: "k-a".into(),
            admin_token: "t-a".into(),
        };
        let b = LanSecrets {
            secret_key: "k-b".into(),
            admin_token: "t-b".into(),
        };
        assert_eq!(store.lan_secrets_or_insert(&a, 1).await.unwrap(), a);
        assert_eq!(store.lan_secrets_or_insert(&b, 2).await.unwrap(), a);
        assert!(store.set_lan_admin_token("t-new").await.unwrap());
        assert_eq!(
            store
                .lan_secrets_or_insert(&b, 3)
                .await
                .unwrap()
                .admin_token,
            "t-new"
        );
        let id = store.cluster_system_identifier().await.unwrap();
        assert!(id.parse::<u64>().is_ok(), "{id}");
        store.close().await;
    }
}
