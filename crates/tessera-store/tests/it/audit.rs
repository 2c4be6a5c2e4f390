//! The audit log on SQLite and, when reachable, PostgreSQL: entries come back newest
//! first with every field, each realm sees only its own, the filters (action, a part of
//! the actor or target, a period, paging) narrow them, wildcards in a filter are plain
//! text, and the usage record's retention removes old ones.

use tessera_core::Millis;
use tessera_store::testing::TestDatabase;
use tessera_store::{AuditAction, AuditFilter, NewAuditEntry, Store};

#[allow(dead_code)]
enum Keep {
    Dir(tempfile::TempDir),
    Pg(TestDatabase),
}

async fn stores() -> Vec<(Store, Keep)> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::open_sqlite(&dir.path().join("a.db")).await.unwrap();
    let mut out = vec![(sqlite, Keep::Dir(dir))];
    if let Some(db) = TestDatabase::create().await {
        out.push((Store::open_url(&db.url).await.unwrap(), Keep::Pg(db)));
    }
    out
}

const T: Millis = 1_780_000_000_000;

fn entry<'a>(
    at: Millis,
    realm: &'a str,
    actor: &'a str,
    action: AuditAction,
    target: &'a str,
) -> NewAuditEntry<'a> {
    NewAuditEntry {
        at,
        realm,
        actor,
        address: "192.0.2.7",
        action,
        target,
        detail: "- max = 2\n+ max = 3\n",
    }
}

fn in_realm(realm: &str) -> AuditFilter {
    AuditFilter {
        realm: Some(realm.into()),
        ..AuditFilter::default()
    }
}

#[tokio::test]
async fn entries_are_kept_per_realm_filtered_and_never_changed() {
    for (store, _keep) in stores().await {
        let b = store.backend();
        for e in [
            entry(
                T,
                "acme",
                "ann@acme.example",
                AuditAction::SeatRemoved,
                "lease 1",
            ),
            entry(
                T + 1000,
                "acme",
                "admin token",
                AuditAction::PolicyChanged,
                "policy",
            ),
            entry(
                T + 2000,
                "acme",
                "ann@acme.example",
                AuditAction::RoleChanged,
                "bob_%@acme.example",
            ),
            entry(
                T + 1500,
                "globex",
                "gus@globex.example",
                AuditAction::SeatRemoved,
                "lease 9",
            ),
        ] {
            store.record_audit(&e).await.unwrap();
        }

        let acme = store.audit_entries(&in_realm("acme")).await.unwrap();
        assert_eq!(acme.len(), 3, "{b:?}");
        assert!(acme.iter().all(|e| e.realm == "acme"), "{b:?}");
        let newest = &acme[0];
        assert_eq!(
            (
                newest.at,
                newest.actor.as_str(),
                newest.address.as_str(),
                newest.action.as_str(),
                newest.target.as_str()
            ),
            (
                T + 2000,
                "ann@acme.example",
                "192.0.2.7",
                "role_changed",
                "bob_%@acme.example"
            ),
            "{b:?}"
        );
        assert_eq!(newest.detail, "- max = 2\n+ max = 3\n");
        assert_eq!(acme[2].at, T, "{b:?}: newest first");

        // Another realm's reader never sees them; the back office (no realm) sees all.
        let globex = store.audit_entries(&in_realm("globex")).await.unwrap();
        assert_eq!(globex.len(), 1, "{b:?}");
        assert_eq!(globex[0].actor, "gus@globex.example");
        assert!(
            store
                .audit_entries(&in_realm("nobody"))
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store
                .audit_entries(&AuditFilter::default())
                .await
                .unwrap()
                .len(),
            4
        );

        // Filters: action, actor (a part, any case), target, period, paging.
        let f = AuditFilter {
            action: Some(AuditAction::SeatRemoved),
            ..in_realm("acme")
        };
        assert_eq!(store.audit_entries(&f).await.unwrap().len(), 1, "{b:?}");
        let f = AuditFilter {
            actor: Some("ANN@".into()),
            ..in_realm("acme")
        };
        assert_eq!(store.audit_entries(&f).await.unwrap().len(), 2, "{b:?}");
        // A wildcard is plain text: `%` matches only a `%`.
        let f = AuditFilter {
            actor: Some("%".into()),
            ..in_realm("acme")
        };
        assert!(store.audit_entries(&f).await.unwrap().is_empty(), "{b:?}");
        let f = AuditFilter {
            target: Some("_%@".into()),
            ..in_realm("acme")
        };
        assert_eq!(store.audit_entries(&f).await.unwrap().len(), 1, "{b:?}");
        let f = AuditFilter {
            since: Some(T + 1000),
            until: Some(T + 2000),
            ..in_realm("acme")
        };
        let got = store.audit_entries(&f).await.unwrap();
        assert_eq!(got.len(), 1, "{b:?}");
        assert_eq!(got[0].action, "policy_changed");
        let f = AuditFilter {
            limit: 2,
            ..in_realm("acme")
        };
        let page1 = store.audit_entries(&f).await.unwrap();
        assert_eq!(page1.len(), 2);
        let f = AuditFilter {
            before_id: Some(page1[1].id),
            ..in_realm("acme")
        };
        let page2 = store.audit_entries(&f).await.unwrap();
        assert_eq!(page2.len(), 1, "{b:?}");
        assert_eq!(page2[0].at, T);

        // Kept as long as the usage record: the same retention removes older entries.
        store.prune_usage(T + 1001).await.unwrap();
        let left = store.audit_entries(&AuditFilter::default()).await.unwrap();
        assert_eq!(left.len(), 2, "{b:?}");
        assert!(left.iter().all(|e| e.at > T + 1001));
    }
}
