//! Databases for tests: each test that needs PostgreSQL creates its own database in the
//! server at `TESSERA_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432/postgres`)
//! and drops it afterwards. With no server reachable the caller skips, except when
//! `TESSERA_REQUIRE_POSTGRES` is set (CI sets it), where a missing server is a failure.

use sqlx::Connection;

/// The variable CI sets to make PostgreSQL tests required.
pub const REQUIRE_ENV: &str = "TESSERA_REQUIRE_POSTGRES";
pub const URL_ENV: &str = "TESSERA_TEST_POSTGRES";

fn admin_url() -> String {
    std::env::var(URL_ENV)
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database made for one test; dropped (with its connections) when this is dropped.
pub struct TestDatabase {
    pub url: String,
    name: String,
}

impl TestDatabase {
    /// A fresh, empty database, or `None` (with a message on stderr) when no PostgreSQL
    /// server is reachable and none is required.
    pub async fn create() -> Option<TestDatabase> {
        let admin = admin_url();
        let mut conn = match sqlx::PgConnection::connect(&admin).await {
            Ok(c) => c,
            Err(e) => {
                if std::env::var_os(REQUIRE_ENV).is_some() {
                    panic!(
                        "PostgreSQL is required ({REQUIRE_ENV} is set) but {admin} is not reachable: {e}"
                    );
                }
                eprintln!(
                    "skipped on PostgreSQL: {admin} is not reachable ({e}); set {URL_ENV} to run these tests there"
                );
                return None;
            }
        };
        let name = format!("tessera_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("can create a test database");
        let _ = conn.close().await;
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
        Some(TestDatabase {
            url: format!("{base}/{name}"),
            name,
        })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin = admin_url();
        let name = self.name.clone();
        // Drop may run inside a runtime; a thread of its own keeps it simple.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut conn = sqlx::PgConnection::connect(&admin).await.ok()?;
                sqlx::Executor::execute(
                    &mut conn,
                    format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str(),
                )
                .await
                .ok()?;
                Some(())
            })
        })
        .join();
    }
}
