//! Realms of the web license server: one per organization, switched on or off, with the
//! organization's policy.

use sqlx::Row;
use tessera_core::Millis;

use crate::{Backend, Store, StoreError};

/// A web license server realm as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealmRecord {
    pub realm: String,
    pub name: String,
    pub enabled: bool,
    pub policy: String,
    /// The panel's allowed e-mail domains, allow list and deny list: one entry a line.
    pub allow_domains: String,
    pub allow_list: String,
    pub deny_list: String,
}

impl Store {
    fn bool_param(&self, v: bool) -> i64 {
        i64::from(v)
    }

    /// Creates the realm (switched on) or renames it; its switch and policy stay.
    pub async fn upsert_realm(
        &self,
        realm: &str,
        name: &str,
        now: Millis,
    ) -> Result<(), StoreError> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "INSERT INTO realms (realm, name, enabled, policy, created_at) VALUES ($1, $2, 1, '', $3) \
                 ON CONFLICT (realm) DO UPDATE SET name = excluded.name"
            }
            Backend::Postgres => {
                "INSERT INTO realms (realm, name, enabled, policy, created_at) VALUES ($1, $2, TRUE, '', $3) \
                 ON CONFLICT (realm) DO UPDATE SET name = excluded.name"
            }
        };
        sqlx::query(sql)
            .bind(realm)
            .bind(name)
            .bind(now)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Every realm that has pools, in name order.
    pub async fn realms_with_pools(&self) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT DISTINCT realm FROM pools ORDER BY realm")
                .fetch_all(&self.db)
                .await?,
        )
    }

    pub async fn realm(&self, realm: &str) -> Result<Option<RealmRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT realm, name, CAST(CASE WHEN enabled THEN 1 ELSE 0 END AS BIGINT) AS on_off, policy, \
             allow_domains, allow_list, deny_list FROM realms WHERE realm = $1",
        )
        .bind(realm)
        .fetch_optional(&self.db)
        .await?;
        row.map(|r| {
            Ok(RealmRecord {
                realm: r.try_get("realm")?,
                name: r.try_get("name")?,
                enabled: r.try_get::<i64, _>("on_off")? != 0,
                policy: r.try_get("policy")?,
                allow_domains: r.try_get("allow_domains")?,
                allow_list: r.try_get("allow_list")?,
                deny_list: r.try_get("deny_list")?,
            })
        })
        .transpose()
    }

    /// The web license server's on/off switch; `false` when there is no such realm.
    pub async fn set_realm_enabled(&self, realm: &str, enabled: bool) -> Result<bool, StoreError> {
        let sql = match self.backend {
            Backend::Sqlite => "UPDATE realms SET enabled = $1 WHERE realm = $2",
            Backend::Postgres => "UPDATE realms SET enabled = ($1 <> 0) WHERE realm = $2",
        };
        let done = sqlx::query(sql)
            .bind(self.bool_param(enabled))
            .bind(realm)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stores the realm's policy text (checked by the caller); `false` when there is no such realm.
    pub async fn set_realm_policy(&self, realm: &str, policy: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE realms SET policy = $1 WHERE realm = $2")
            .bind(policy)
            .bind(realm)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Stores the panel's lists (checked by the caller); `false` when there is no such realm.
    pub async fn set_realm_access(
        &self,
        realm: &str,
        allow_domains: &str,
        allow_list: &str,
        deny_list: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE realms SET allow_domains = $1, allow_list = $2, deny_list = $3 WHERE realm = $4",
        )
        .bind(allow_domains)
        .bind(allow_list)
        .bind(deny_list)
        .bind(realm)
        .execute(&self.db)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
