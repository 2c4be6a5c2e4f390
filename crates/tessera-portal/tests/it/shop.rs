//! The portal's pages in-process, on SQLite and (when reachable) PostgreSQL: the whole
//! purchase of seed 000 (sign up, confirm, Buy, Add to Cart, Checkout, Pending with its
//! invoice and e-mails, Paid with the activation key or the web license server), and
//! the edges: CSRF, sign-in limits, mistakes on the forms, password reset, unknown pages,
//! staff-only pages and gapless numbers under concurrent checkouts.

use crate::support;

use axum::http::StatusCode;
use support::{PASSWORD, STAFF_EMAIL, TestPortal, order_numbers, text_of};
use tessera_token::{RegistrationKey, SigningKey, verify_activation};

fn registration_key() -> (SigningKey, String) {
    let server = SigningKey::generate();
    let key = RegistrationKey::derive(server.verifying_key(), "office-machine").to_string();
    (server, key)
}

#[tokio::test]
async fn a_lan_order_goes_from_sign_up_to_a_paid_activation_key_on_every_backend() {
    for t in TestPortal::every_backend().await {
        let backend = format!("{:?}", t.portal.store.backend());
        let (server, reg) = registration_key();
        let mut buyer = t
            .customer("Buyer@Office.example", "Kowalski & Partners")
            .await;

        // Buy → Corporate subscription → Add to Cart: the dialog opens with the item.
        let catalog = buyer.get("/buy").await;
        for name in ["AutoCAD plugins", "Revit plugins", "all at once", "Buy"] {
            assert!(catalog.has(name), "{backend}: {name} missing");
        }
        let added = buyer
            .add_to_cart("autocad", "autocad-1y", "3", Some(&reg.to_lowercase()))
            .await;
        assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.text);
        let page = buyer.get(added.location.as_deref().unwrap()).await;
        assert!(page.has("<dialog id=\"cart-dialog\" aria-labelledby=\"cart-dialog-title\" open>"));
        assert!(page.has("Go to checkout") && page.has("Return to site"));
        assert_eq!(text_of(&page.text, "cart-count").as_deref(), Some("1"));
        assert!(
            page.has(&reg),
            "{backend}: the key is kept in its canonical form"
        );

        // Checkout without company info is refused with a message, not a 500.
        let refused = buyer.checkout(true).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refused.has("Add company info"));
        TestPortal::add_company_info(
            &mut buyer,
            "Kowalski & Partners Sp. z o.o.",
            "faktury@kowalski.example",
        )
        .await;
        let checkout = buyer.get("/checkout").await;
        for word in [
            "Payment",
            "Bank transfer",
            "Contract and Acts",
            "Checkout",
            "company-summary",
        ] {
            assert!(checkout.has(word), "{backend}: {word} missing on checkout");
        }
        // 3 users × 300.00 EUR = 900.00 net + 23 % = 1 107.00 EUR.
        assert_eq!(
            text_of(&checkout.text, "total-gross").as_deref(),
            Some("1 107.00 EUR")
        );
        let placed = buyer.checkout(true).await;
        assert_eq!(placed.status, StatusCode::SEE_OTHER, "{}", placed.text);
        let orders = buyer.get(placed.location.as_deref().unwrap()).await;
        let number = order_numbers(&orders.text).pop().unwrap();
        assert!(
            number.starts_with("ORD-") && number.ends_with("-000001"),
            "{number}"
        );
        assert_eq!(
            text_of(&orders.text, &format!("status-{number}")).as_deref(),
            Some("Pending")
        );
        assert_eq!(
            text_of(&buyer.get("/checkout").await.text, "cart-count").as_deref(),
            Some("0")
        );

        // The customer has the invoice and the agreement; the staff are told.
        let mails = t.mails_to("buyer@office.example").await;
        let order_mail = mails.iter().find(|m| m.subject.contains(&number)).unwrap();
        assert!(
            order_mail.subject.contains("INV-"),
            "{}",
            order_mail.subject
        );
        assert!(
            order_mail
                .to
                .iter()
                .any(|a| a == "faktury@kowalski.example")
        );
        let names: Vec<&str> = order_mail
            .attachments
            .iter()
            .map(|a| a.0.as_str())
            .collect();
        assert!(
            names
                .iter()
                .any(|n| n.starts_with("INV-") && n.ends_with(".pdf")),
            "{names:?}"
        );
        assert!(names.iter().any(|n| n.starts_with("AGR-")), "{names:?}");
        assert!(
            order_mail
                .attachments
                .iter()
                .all(|a| a.1.starts_with(b"%PDF-"))
        );
        assert!(order_mail.text.contains("Bank transfer") && order_mail.text.contains("IBAN"));
        let staff_mail = t.mails_to("sales@tessera.example").await;
        assert!(
            staff_mail.iter().any(|m| m.subject.contains(&number)),
            "{staff_mail:?}"
        );

        // The invoice downloads again from Orders.
        let invoice = buyer
            .get(&format!("/account/orders/{number}/documents/invoice"))
            .await;
        assert_eq!(invoice.status, StatusCode::OK);
        assert_eq!(invoice.content_type, "application/pdf");
        assert!(invoice.bytes.starts_with(b"%PDF-"));
        assert!(
            buyer
                .get(&format!("/account/orders/{number}/documents/act"))
                .await
                .status
                == StatusCode::NOT_FOUND
        );

        // Staff find it by company and by e-mail, and mark it Paid.
        let mut staff = t.staff().await;
        for q in ["kowalski", "BUYER@office", &number] {
            let found = staff
                .get(&format!("/staff/orders?q={}", q.replace('&', "%26")))
                .await;
            assert!(
                found.has(&format!("open-{number}")),
                "{backend}: search {q}"
            );
        }
        assert!(
            !staff
                .get("/staff/orders?q=nobody-at-all")
                .await
                .has(&number)
        );
        let order_page = staff.get(&format!("/staff/orders/{number}")).await;
        assert!(order_page.has("Mark Paid"));
        let today = support::today();
        let paid = staff.mark_paid(&number, &today).await;
        assert_eq!(paid.status, StatusCode::SEE_OTHER, "{}", paid.text);
        let again = staff.mark_paid(&number, &today).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "{backend}: paid twice");

        // The activation key: shown in Orders with copy and download, and e-mailed.
        let orders = buyer.get("/account/orders").await;
        assert_eq!(
            text_of(&orders.text, &format!("status-{number}")).as_deref(),
            Some("Paid")
        );
        let key = text_of(&orders.text, &format!("activation-key-{number}")).unwrap();
        assert!(orders.has(&format!("copy-activation-key-{number}")));
        let download = buyer
            .get(&format!("/account/orders/{number}/activation-key"))
            .await;
        assert_eq!(download.text.trim(), key.trim());
        let act = verify_activation(t.vendor.verifying_key(), key.trim()).unwrap();
        assert_eq!(act.claims.registration_key, reg);
        assert_eq!(act.claims.server_key, server.verifying_key().to_paserk());
        assert_eq!(act.claims.org, "Kowalski & Partners Sp. z o.o.");
        let pool = &act.claims.pools[0];
        assert_eq!(pool.id, number.to_lowercase());
        assert_eq!(
            (pool.seats, pool.products.clone()),
            (3, vec!["autocad".to_string()])
        );
        assert_eq!(
            pool.start.date_naive().format("%Y-%m-%d").to_string(),
            today
        );
        assert_eq!(pool.borrow_max_hours, 72);
        let paid_mail = t
            .mails_to("buyer@office.example")
            .await
            .into_iter()
            .find(|m| m.subject.contains("is Paid"))
            .unwrap();
        assert!(
            paid_mail.text.contains(key.trim()),
            "{backend}: key in the e-mail"
        );
        let files: Vec<&str> = paid_mail.attachments.iter().map(|a| a.0.as_str()).collect();
        assert!(
            files.iter().any(|f| f.ends_with(".key"))
                && files.iter().any(|f| f.starts_with("ACT-")),
            "{files:?}"
        );
        assert!(
            buyer
                .get(&format!("/account/orders/{number}/documents/act"))
                .await
                .bytes
                .starts_with(b"%PDF-")
        );

        // Another organization sees none of it.
        let mut other = t.customer("other@else.example", "Someone Else").await;
        assert_eq!(
            other
                .get(&format!("/account/orders/{number}/activation-key"))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert!(!other.get("/account/orders").await.has(&number));
    }
}

#[tokio::test]
async fn a_web_license_server_order_gets_use_web_license_server_when_paid() {
    for t in TestPortal::every_backend().await {
        let mut buyer = t
            .customer_with_company("web@buyer.example", "Web Buyer")
            .await;
        buyer.add_to_cart("all", "all-3m", "2", None).await.ok();
        let placed = buyer.checkout(false).await.ok();
        let orders = buyer.get(placed.location.as_deref().unwrap()).await;
        let number = order_numbers(&orders.text).pop().unwrap();
        assert!(!orders.has("Use Web License Server</a>"), "not before Paid");
        let mails = t.mails_to("web@buyer.example").await;
        let order_mail = mails.iter().find(|m| m.subject.contains(&number)).unwrap();
        assert_eq!(
            order_mail.attachments.len(),
            1,
            "no agreement without Contract and Acts"
        );

        t.mark_paid(&number, &support::today()).await;
        let orders = buyer.get("/account/orders").await;
        assert!(
            orders.has("id=\"use-web-license-server\""),
            "{}",
            orders.text
        );
        assert!(orders.has("href=\"/w/web-buyer/\""));
        let panel = buyer.get("/w/web-buyer/").await;
        assert_eq!(panel.status, StatusCode::OK);
        assert!(panel.has("autocad + revit"), "{}", panel.text);
        // The protocol answers for the organization: its pool is there.
        let info = buyer.get("/w/web-buyer/api/v1/server").await;
        assert_eq!(info.status, StatusCode::OK, "{}", info.text);
        assert!(info.text.contains(&number.to_lowercase()), "{}", info.text);
        // Someone else's organization is not shown to this buyer.
        let mut other = t.customer("nosy@else.example", "Nosy").await;
        assert_eq!(
            other.get("/w/web-buyer/").await.status,
            StatusCode::NOT_FOUND
        );
    }
}

#[tokio::test]
async fn every_form_without_the_right_csrf_secret_is_refused_with_403() {
    let t = TestPortal::sqlite().await;
    let mut b = t.browser();
    // No session at all.
    let page = b
        .post_raw("/signin", &[("email", "a@b.example"), ("password", "x")])
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    // A pre-session, but no secret or a wrong one.
    b.get("/signin").await.ok();
    assert!(b.cookie.is_some());
    for fields in [
        vec![("email", "a@b.example"), ("password", "x")],
        vec![
            ("csrf", "wrong"),
            ("email", "a@b.example"),
            ("password", "x"),
        ],
    ] {
        assert_eq!(
            b.post_raw("/signin", &fields).await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            b.post_raw("/signup", &fields).await.status,
            StatusCode::FORBIDDEN
        );
    }
    // Signed in: the secret of another session does not do either.
    let mut buyer = t.customer("csrf@buyer.example", "Csrf").await;
    let foreign = t.browser().get("/signin").await;
    let foreign = support::csrf_in(&foreign.text).unwrap();
    let r = buyer
        .post_raw(
            "/checkout",
            &[("csrf", &foreign), ("payment", "bank_transfer")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = buyer.post_raw("/signout", &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // With its own secret the same form goes through.
    buyer.get("/account/orders").await;
    assert_eq!(
        buyer.submit("/signout", &[]).await.status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(buyer.get("/checkout").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn too_many_failed_sign_ins_answer_429_until_the_window_passes() {
    let t = TestPortal::sqlite().await;
    t.customer("limited@buyer.example", "Limited").await;
    let mut b = t.browser();
    b.get("/signin").await;
    for _ in 0..5 {
        let r = b
            .submit(
                "/signin",
                &[
                    ("email", "limited@buyer.example"),
                    ("password", "wrong password"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(r.has("not right"));
    }
    // Even the right password is refused now, with a page that says why.
    let r = b
        .submit(
            "/signin",
            &[("email", "LIMITED@buyer.example"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.has("Too many failed sign-ins"));
    // Another account from the same browser is not affected.
    t.customer("fine@buyer.example", "Fine").await;
}

/// Fields sent, the field blamed, words of the message.
type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str);

#[tokio::test]
async fn mistakes_on_the_subscription_form_are_shown_with_4xx_never_500() {
    let t = TestPortal::sqlite().await;
    let mut b = t.browser();
    let cases: Vec<Case> = vec![
        (
            vec![
                ("option", "autocad-1y"),
                ("users", "2"),
                ("registration_key", "TSR1-NOT-A-KEY"),
            ],
            "registration_key",
            "not valid",
        ),
        (
            vec![("option", "autocad-1y"), ("users", "0"), ("web", "on")],
            "users",
            "at least 1 user",
        ),
        (
            vec![("option", "autocad-1y"), ("users", "many"), ("web", "on")],
            "users",
            "whole number",
        ),
        (
            vec![
                ("option", "autocad-1y"),
                ("users", "2"),
                ("start", "2001-01-01"),
                ("web", "on"),
            ],
            "start",
            "cannot be in the past",
        ),
        (
            vec![
                ("option", "autocad-1y"),
                ("users", "2"),
                ("start", "tomorrow"),
                ("web", "on"),
            ],
            "start",
            "enter a date",
        ),
        (
            vec![("option", "autocad-1y"), ("users", "2")],
            "registration_key",
            "Use Web License Server",
        ),
        (
            vec![("option", "revit-1y"), ("users", "2"), ("web", "on")],
            "option",
            "another product",
        ),
        (
            vec![("users", "2"), ("web", "on")],
            "option",
            "Choose a volume license option",
        ),
    ];
    for (fields, field, message) in cases {
        b.get("/buy/autocad").await;
        let r = b.submit("/buy/autocad", &fields).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{fields:?}");
        assert!(
            r.has(message),
            "{fields:?}: {}",
            text_of(&r.text, "form-error").unwrap_or_default()
        );
        assert!(r.has(&format!("id=\"{field}\"")) || field == "option");
    }
    assert_eq!(
        text_of(&b.get("/cart").await.text, "cart-count").as_deref(),
        Some("0")
    );
    // The key is checked as it is typed, too.
    let bad = b.get("/registration-key/check?key=TSR1-ABCD").await;
    assert!(bad.text.contains("\"valid\":false"), "{}", bad.text);
    let (_, good) = registration_key();
    let ok = b.get(&format!("/registration-key/check?key={good}")).await;
    assert!(ok.text.contains("\"valid\":true"), "{}", ok.text);
    // Sign-up mistakes.
    b.get("/signup").await;
    for (fields, message) in [
        (
            vec![
                ("email", "nope"),
                ("organization", "X"),
                ("password", PASSWORD),
                ("password_again", PASSWORD),
            ],
            "not an e-mail address",
        ),
        (
            vec![
                ("email", "a@b.example"),
                ("organization", "X"),
                ("password", "short"),
                ("password_again", "short"),
            ],
            "at least 10",
        ),
        (
            vec![
                ("email", "a@b.example"),
                ("organization", "X"),
                ("password", PASSWORD),
                ("password_again", "something else!"),
            ],
            "not the same",
        ),
        (
            vec![
                ("email", "a@b.example"),
                ("organization", ""),
                ("password", PASSWORD),
                ("password_again", PASSWORD),
            ],
            "organization",
        ),
    ] {
        let r = b.submit("/signup", &fields).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{fields:?}");
        assert!(r.has(message), "{fields:?}");
    }
    t.customer("twice@buyer.example", "Twice").await;
    b.get("/signup").await;
    let r = b
        .submit(
            "/signup",
            &[
                ("email", "TWICE@buyer.example"),
                ("organization", "X"),
                ("password", PASSWORD),
                ("password_again", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    // Signing in before confirming says so, and offers the link again.
    b.get("/signup").await;
    b.submit(
        "/signup",
        &[
            ("email", "late@buyer.example"),
            ("organization", "Late"),
            ("password", PASSWORD),
            ("password_again", PASSWORD),
        ],
    )
    .await
    .ok();
    b.get("/signin").await;
    let r = b
        .submit(
            "/signin",
            &[("email", "late@buyer.example"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.has("Confirm your e-mail") && r.has("resend-confirmation"));
}

#[tokio::test]
async fn a_password_is_reset_with_the_e_mailed_link_once() {
    let t = TestPortal::sqlite().await;
    let mut old_session = t.customer("forgetful@buyer.example", "Forgetful").await;
    let mut b = t.browser();
    b.get("/password/forgot").await;
    let r = b
        .submit("/password/forgot", &[("email", "Forgetful@buyer.example")])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // Unknown addresses get the same answer and no mail.
    b.get("/password/forgot").await;
    let same = b
        .submit("/password/forgot", &[("email", "nobody@buyer.example")])
        .await;
    assert_eq!(same.status, StatusCode::OK);
    assert!(t.mails_to("nobody@buyer.example").await.is_empty());
    let link = t
        .link_in_last_mail("forgetful@buyer.example", "/password/reset?token=")
        .await;
    let form = b.get(&link).await;
    assert_eq!(form.status, StatusCode::OK);
    let token = link.split("token=").nth(1).unwrap();
    let mismatch = b
        .submit(
            "/password/reset",
            &[
                ("token", token),
                ("password", "new password 1"),
                ("password_again", "new password 2"),
            ],
        )
        .await;
    assert_eq!(mismatch.status, StatusCode::UNPROCESSABLE_ENTITY);
    let done = b
        .submit(
            "/password/reset",
            &[
                ("token", token),
                ("password", "my new password"),
                ("password_again", "my new password"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    // Used once only; the old session has ended; the old password no longer works.
    assert_eq!(b.get(&link).await.status, StatusCode::GONE);
    let again = b
        .submit(
            "/password/reset",
            &[
                ("token", token),
                ("password", "third password!"),
                ("password_again", "third password!"),
            ],
        )
        .await;
    assert_eq!(again.status, StatusCode::GONE);
    assert_eq!(
        old_session.get("/account/orders").await.status,
        StatusCode::SEE_OTHER
    );
    b.get("/signin").await;
    let r = b
        .submit(
            "/signin",
            &[("email", "forgetful@buyer.example"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    b.sign_in("forgetful@buyer.example", "my new password")
        .await;
    assert_eq!(b.get("/account/orders").await.status, StatusCode::OK);
}

#[tokio::test]
async fn unknown_pages_are_404_and_the_back_office_is_for_staff() {
    let t = TestPortal::sqlite().await;
    let mut b = t.browser();
    for path in [
        "/nope",
        "/buy/no-such-product",
        "/account/orders/ORD-1/documents/invoice",
    ] {
        let r = b.get(path).await;
        assert!(
            matches!(r.status, StatusCode::NOT_FOUND | StatusCode::SEE_OTHER),
            "{path}: {}",
            r.status
        );
    }
    assert_eq!(b.get("/nope").await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        b.get("/buy/no-such-product").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(b.get("/staff/orders").await.status, StatusCode::SEE_OTHER);
    let mut buyer = t.customer("plain@buyer.example", "Plain").await;
    assert_eq!(
        buyer.get("/staff/orders").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        buyer
            .get("/account/orders/ORD-2026-999999/activation-key")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let mut staff = t.staff().await;
    assert_eq!(staff.get("/staff/orders").await.status, StatusCode::OK);
    assert_eq!(
        staff.get("/staff/orders/ORD-2026-999999").await.status,
        StatusCode::NOT_FOUND
    );
    assert!(staff.get("/").await.has("Back office"));
    let _ = STAFF_EMAIL;
}

#[tokio::test]
async fn order_and_invoice_numbers_have_no_gaps_under_concurrent_checkouts() {
    for t in TestPortal::every_backend().await {
        let backend = format!("{:?}", t.portal.store.backend());
        let mut buyers = Vec::new();
        for i in 0..8 {
            let mut b = t
                .customer_with_company(&format!("c{i}@many.example"), &format!("Many {i}"))
                .await;
            b.add_to_cart("revit", "revit-3m", "1", None).await.ok();
            b.add_to_cart("autocad", "autocad-3m", "2", None).await.ok();
            b.get("/checkout").await;
            buyers.push(b);
        }
        let mut tasks = Vec::new();
        for mut b in buyers {
            tasks.push(tokio::spawn(async move {
                let r = b.submit("/checkout", &[("payment", "bank_transfer")]).await;
                // The same Checkout again (a double click) places nothing more.
                let again = b.submit("/checkout", &[("payment", "bank_transfer")]).await;
                (r.status, again.status)
            }));
        }
        for task in tasks {
            let (first, again) = task.await.unwrap();
            assert_eq!(first, StatusCode::SEE_OTHER, "{backend}");
            assert_eq!(
                again,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{backend}: the cart is empty now"
            );
        }
        let all = t.portal.store.search_orders("", None, 1000).await.unwrap();
        assert_eq!(all.len(), 16, "{backend}");
        let year = chrono::Utc::now().format("%Y").to_string();
        let mut orders: Vec<String> = all.iter().map(|o| o.number.clone()).collect();
        let mut invoices: Vec<String> = all.iter().map(|o| o.invoice_number.clone()).collect();
        orders.sort();
        invoices.sort();
        let expect = |prefix: &str| -> Vec<String> {
            (1..=16)
                .map(|n| format!("{prefix}-{year}-{n:06}"))
                .collect()
        };
        assert_eq!(orders, expect("ORD"), "{backend}");
        assert_eq!(invoices, expect("INV"), "{backend}");
    }
}

#[tokio::test]
async fn a_visitors_cart_follows_them_when_they_sign_in_and_its_items_can_be_edited() {
    let t = TestPortal::sqlite().await;
    t.customer("cart@buyer.example", "Cart").await;
    let mut b = t.browser();
    let added = b.add_to_cart("revit", "revit-1y", "4", None).await;
    assert_eq!(added.status, StatusCode::SEE_OTHER);
    let cart = b.get("/cart").await;
    assert_eq!(text_of(&cart.text, "cart-count").as_deref(), Some("1"));
    assert_eq!(b.get("/checkout").await.status, StatusCode::SEE_OTHER);
    b.sign_in("cart@buyer.example", PASSWORD).await;
    let cart = b.get("/cart").await;
    assert_eq!(text_of(&cart.text, "cart-count").as_deref(), Some("1"));
    // Edit from the cart: the form comes back filled in, and saving changes the item.
    let at = cart.text.find("?edit=").unwrap();
    let item = cart.text[at + 6..].split('"').next().unwrap().to_owned();
    let form = b.get(&format!("/buy/revit?edit={item}")).await;
    assert!(form.has("value=\"4\"") && form.has("Save changes"));
    let saved = b
        .submit(
            "/buy/revit",
            &[
                ("edit", &item),
                ("option", "revit-3y"),
                ("start", ""),
                ("users", "5"),
                ("web", "on"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text);
    let cart = b.get("/cart").await;
    assert_eq!(text_of(&cart.text, "cart-count").as_deref(), Some("1"));
    assert!(
        cart.has("3 years") && cart.has("5 user(s)"),
        "{}",
        cart.text
    );
    // Remove empties it.
    b.submit(&format!("/cart/{item}/remove"), &[]).await.ok();
    assert_eq!(
        text_of(&b.get("/cart").await.text, "cart-count").as_deref(),
        Some("0")
    );
}

/// After Add to Cart the product page comes back with the validity period just chosen
/// still selected (not the first option), ready for another item of the same kind.
#[tokio::test]
async fn after_add_to_cart_the_product_page_keeps_the_chosen_validity_period() {
    let t = TestPortal::sqlite().await;
    let mut b = t.browser();
    let added = b.add_to_cart("revit", "revit-3y", "2", None).await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.text);
    let back = added.location.expect("back to the product page");
    let page = b.get(&back).await.ok();
    assert!(page.has("Added to the cart."), "{}", page.text);
    let checked = |id: &str| {
        page.text
            .contains(&format!("id=\"option-{id}\" value=\"{id}\" checked"))
    };
    assert!(checked("revit-3y"), "{}", page.text);
    assert!(!checked("revit-3m"), "{}", page.text);
}
