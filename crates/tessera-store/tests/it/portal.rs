//! The portal's tables on SQLite and, when reachable, PostgreSQL: accounts unique by
//! e-mail in any case, sessions and one-time tokens, sign-in failures, the catalog, and
//! orders with gapless numbers, taken once from the cart and paid once.

use tessera_core::Millis;
use tessera_store::Store;
use tessera_store::portal::{
    CatalogProduct, CompanyInfo, DocumentKind, DocumentRecord, LicenseOptionRecord, NewAccount,
    NewCartItem, NewOrder, OneTimePurpose, OrderStatus, PaidOrder, ProductRecord, Role, ServerKind,
    SessionRow,
};
use tessera_store::testing::TestDatabase;

#[allow(dead_code)]
enum Keep {
    Dir(tempfile::TempDir),
    Pg(TestDatabase),
}

async fn stores() -> Vec<(Store, Keep)> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::open_sqlite(&dir.path().join("p.db")).await.unwrap();
    let mut out = vec![(sqlite, Keep::Dir(dir))];
    if let Some(db) = TestDatabase::create().await {
        out.push((Store::open_url(&db.url).await.unwrap(), Keep::Pg(db)));
    }
    out
}

const NOW: Millis = 1_780_000_000_000;

fn catalog() -> Vec<CatalogProduct> {
    vec![CatalogProduct {
        product: ProductRecord {
            id: "acad".into(),
            name: "AutoCAD plugins".into(),
            description: String::new(),
            licensed: vec!["autocad".into()],
        },
        options: vec![LicenseOptionRecord {
            id: "acad-1y".into(),
            product_id: "acad".into(),
            name: "1 year".into(),
            months: 12,
            price_minor: 30_000,
            currency: "EUR".into(),
            borrow_max_hours: 24,
        }],
    }]
}

async fn account(store: &Store, email: &str, org: &str) -> (String, String) {
    let (user, org) = store
        .create_account(
            &NewAccount {
                email,
                password_hash: "$argon2id$test",
                role: Role::Customer,
                organization_name: org,
                slug: "office",
                confirmed_at: None,
            },
            NOW,
        )
        .await
        .unwrap()
        .expect("a new e-mail");
    (user.id, org.id)
}

fn order(user: &str, org: &str, cart_item: Option<String>) -> NewOrder {
    NewOrder {
        cart_item_id: cart_item,
        user_id: user.into(),
        organization_id: org.into(),
        customer_email: "buyer@office.example".into(),
        company: CompanyInfo {
            name: "Office".into(),
            address: vec!["Street 1".into(), "City".into()],
            tax_id: "PL1".into(),
            billing_email: "buyer@office.example".into(),
        },
        option_id: "acad-1y".into(),
        product_name: "AutoCAD plugins".into(),
        option_name: "1 year".into(),
        licensed: vec!["autocad".into()],
        months: 12,
        borrow_max_hours: 24,
        seats: 2,
        currency: "EUR".into(),
        unit_price_minor: 30_000,
        tax_rate_bp: 2300,
        net_minor: 60_000,
        tax_minor: 13_800,
        gross_minor: 73_800,
        contract_and_acts: true,
        server_kind: ServerKind::Lan,
        registration_key: Some("TSR1-X".into()),
        start_date: "2026-05-01".into(),
        end_date: "2027-05-01".into(),
    }
}

#[tokio::test]
async fn accounts_are_unique_by_e_mail_in_any_case_and_slugs_get_numbers() {
    for (store, _keep) in stores().await {
        let (user, org) = account(&store, "Buyer@Office.example", "Office").await;
        let again = store
            .create_account(
                &NewAccount {
                    email: "buyer@OFFICE.example",
                    password_hash: "h",
                    role: Role::Customer,
                    organization_name: "Office",
                    slug: "office",
                    confirmed_at: None,
                },
                NOW,
            )
            .await
            .unwrap();
        assert!(again.is_none());
        let found = store
            .user_by_email(" BUYER@office.EXAMPLE ")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.id, user);
        assert_eq!(found.email, "Buyer@Office.example");
        let (_, org2) = account(&store, "second@office.example", "Office").await;
        let a = store.organization(&org).await.unwrap().unwrap();
        let b = store.organization(&org2).await.unwrap().unwrap();
        assert_eq!((a.slug.as_str(), b.slug.as_str()), ("office", "office-2"));
        assert!(!a.company_saved);
        store
            .save_company(
                &org,
                &CompanyInfo {
                    name: "Office Ltd".into(),
                    address: vec!["Street 1".into(), "".into(), "City".into()],
                    tax_id: "PL1".into(),
                    billing_email: "bills@office.example".into(),
                },
            )
            .await
            .unwrap();
        let a = store.organization_by_slug("office").await.unwrap().unwrap();
        assert!(a.company_saved);
        assert_eq!(a.address, vec!["Street 1", "City"]);
        assert_eq!(a.name, "Office Ltd");
    }
}

#[tokio::test]
async fn sessions_tokens_and_sign_in_failures() {
    for (store, _keep) in stores().await {
        let (user, _) = account(&store, "s@office.example", "S").await;
        let row = SessionRow {
            token_hash: "h1".into(),
            user_id: Some(user.clone()),
            csrf_secret: "c1".into(),
            created_at: NOW,
            expires_at: NOW + 1000,
        };
        store.create_session(&row).await.unwrap();
        store
            .create_session(&SessionRow {
                token_hash: "h2".into(),
                user_id: None,
                ..row.clone()
            })
            .await
            .unwrap();
        assert_eq!(store.session("h1", NOW).await.unwrap(), Some(row.clone()));
        assert_eq!(
            store.session("h1", NOW + 1000).await.unwrap(),
            None,
            "expired"
        );
        assert_eq!(store.delete_user_sessions(&user).await.unwrap(), 1);
        assert!(store.session("h2", NOW).await.unwrap().is_some());

        store
            .create_one_time_token("t", OneTimePurpose::Reset, &user, NOW, NOW + 100)
            .await
            .unwrap();
        let take = |p, at| {
            let store = store.clone();
            async move { store.take_one_time_token("t", p, at).await.unwrap() }
        };
        assert_eq!(
            take(OneTimePurpose::Confirm, NOW).await,
            None,
            "wrong purpose"
        );
        assert_eq!(
            take(OneTimePurpose::Reset, NOW + 100).await,
            None,
            "expired"
        );
        assert_eq!(take(OneTimePurpose::Reset, NOW).await, Some(user.clone()));
        assert_eq!(take(OneTimePurpose::Reset, NOW).await, None, "used once");

        for i in 0..3 {
            store
                .record_login_failure(&["account:s", "ip:1"], NOW + i)
                .await
                .unwrap();
        }
        assert_eq!(
            store.login_failures_since("account:s", NOW).await.unwrap(),
            3
        );
        assert_eq!(
            store
                .login_failures_since("account:s", NOW + 2)
                .await
                .unwrap(),
            1
        );
        store.clear_login_failures("account:s").await.unwrap();
        assert_eq!(store.login_failures_since("account:s", 0).await.unwrap(), 0);
        assert_eq!(store.login_failures_since("ip:1", 0).await.unwrap(), 3);
        store
            .purge_expired_sessions(NOW + 5000, NOW + 5000)
            .await
            .unwrap();
        assert!(store.session("h2", NOW).await.unwrap().is_none());
        assert_eq!(store.login_failures_since("ip:1", 0).await.unwrap(), 0);
    }
}

#[tokio::test]
async fn orders_take_gapless_numbers_leave_the_cart_once_and_are_paid_once() {
    for (store, _keep) in stores().await {
        store.sync_catalog(&catalog()).await.unwrap();
        assert_eq!(store.catalog().await.unwrap(), catalog());
        let (user, org) = account(&store, "o@office.example", "O").await;
        let owner = format!("user:{user}");
        let item = NewCartItem {
            option_id: "acad-1y",
            start_date: "2026-05-01",
            seats: 2,
            server_kind: "lan",
            registration_key: Some("TSR1-X"),
            team_id: None,
        };
        let a = store.add_cart_item(&owner, &item, NOW).await.unwrap();
        let b = store.add_cart_item(&owner, &item, NOW + 1).await.unwrap();
        let placed = store
            .place_orders(&[order(&user, &org, Some(a.clone()))], &owner, NOW)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(placed[0].number, "ORD-2026-000001");
        assert_eq!(placed[0].invoice_number, "INV-2026-000001");
        assert_eq!(placed[0].pool_id, "ord-2026-000001");
        // The same item again: nothing placed, and no number used up.
        let twice = store
            .place_orders(
                &[
                    order(&user, &org, Some(b.clone())),
                    order(&user, &org, Some(a)),
                ],
                &owner,
                NOW,
            )
            .await
            .unwrap();
        assert!(twice.is_none());
        assert_eq!(store.cart_items(&owner).await.unwrap().len(), 1, "b stays");
        let next = store
            .place_orders(&[order(&user, &org, Some(b))], &owner, NOW)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(next[0].number, "ORD-2026-000002");

        // Concurrent placements number one after the other.
        let mut tasks = Vec::new();
        for _ in 0..12 {
            let (store, user, org) = (store.clone(), user.clone(), org.clone());
            tasks.push(tokio::spawn(async move {
                store
                    .place_orders(&[order(&user, &org, None)], "user:none", NOW)
                    .await
                    .unwrap()
                    .unwrap()
            }));
        }
        let mut numbers = Vec::new();
        for t in tasks {
            numbers.push(t.await.unwrap()[0].invoice_number.clone());
        }
        numbers.sort();
        let expected: Vec<String> = (3..=14).map(|n| format!("INV-2026-{n:06}")).collect();
        assert_eq!(numbers, expected);

        let first = store
            .order_by_number("ORD-2026-000001")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first, placed[0]);
        let paid = PaidOrder {
            start_date: "2026-06-01",
            end_date: "2027-06-01",
            activation_key: Some("v4.public.key"),
        };
        assert!(
            store
                .mark_order_paid(&first.id, &paid, NOW + 10)
                .await
                .unwrap()
        );
        assert!(
            !store
                .mark_order_paid(&first.id, &paid, NOW + 11)
                .await
                .unwrap()
        );
        assert!(!store.cancel_order(&first.id, NOW + 12).await.unwrap());
        let first = store
            .order_by_number("ORD-2026-000001")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.status, OrderStatus::Paid);
        assert_eq!(first.activation_key.as_deref(), Some("v4.public.key"));
        assert_eq!(
            (first.start_date.as_str(), first.paid_at),
            ("2026-06-01", Some(NOW + 10))
        );
        assert!(store.cancel_order(&next[0].id, NOW).await.unwrap());

        store
            .put_document(
                &first.id,
                &DocumentRecord {
                    kind: DocumentKind::Invoice,
                    filename: "INV.pdf".into(),
                    content_type: "application/pdf".into(),
                    content: b"%PDF-1.7 \x00\xff".to_vec(),
                    created_at: NOW,
                },
            )
            .await
            .unwrap();
        let doc = store
            .document(&first.id, DocumentKind::Invoice)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(doc.content, b"%PDF-1.7 \x00\xff");
        assert_eq!(
            store.document_kinds(&first.id).await.unwrap(),
            vec![DocumentKind::Invoice]
        );

        assert_eq!(
            store.search_orders("000001", None, 10).await.unwrap().len(),
            1
        );
        assert_eq!(
            store
                .search_orders("", Some(OrderStatus::Cancelled), 10)
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            store
                .search_orders("BUYER@office", None, 100)
                .await
                .unwrap()
                .len(),
            14
        );
        assert_eq!(
            store.search_orders("100%", None, 10).await.unwrap().len(),
            0
        );
        assert_eq!(store.orders_of_organization(&org).await.unwrap().len(), 14);
    }
}
