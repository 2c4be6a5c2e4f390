//! Contact a support agent: a customer's request about one of their orders with a
//! screenshot and the server's status as text, numbered and stored; staff are told, the
//! back office assigns, replies and closes; replies go out by e-mail and show on the
//! customer's Support requests page, where the customer answers. Other organizations see
//! nothing of it, bad input is refused with a clear message and nothing stored, and a
//! message whose e-mails a stop interrupted is announced afterwards. On every backend.

use axum::http::StatusCode;
use tessera_portal::support::{MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS, announce_pending};
use tessera_store::portal::{NewSupportRequest, SupportStatus};

use crate::support::{Browser, TestPortal, first_id_after};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0";
const STATUS: &[u8] = b"POOL          SEATS\ndemo-autocad  1/5\n";
const RENEWALS: &str = "post-purchase/subscription-management/renewals";

/// The customer opens Contact a support agent about `order` and sends it; the request's
/// number.
async fn send_request(b: &mut Browser, order: &str, files: &[(&str, &str, &[u8])]) -> String {
    let form = b
        .get("/support/new?topic=post-purchase%2Fsubscription-management%2Frenewals&from=%2Faccount%2Fsubscriptions")
        .await
        .ok();
    assert!(
        form.has(&format!("<option value=\"{RENEWALS}\" selected>")),
        "the topic is filled in: {}",
        form.text
    );
    let about = format!("order:{order}");
    assert!(form.has(&format!("value=\"{about}\"")), "{}", form.text);
    let sent = b
        .submit_files(
            "/support/new",
            &[
                ("topic", RENEWALS),
                ("about", &about),
                ("message", "Renew now is not offered for our order."),
                ("from", "/account/subscriptions"),
            ],
            files,
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.text);
    let location = sent.location.unwrap();
    let number = location
        .trim_start_matches("/account/support/")
        .trim_end_matches("?sent=1")
        .to_owned();
    assert!(number.starts_with("SR-"), "{location}");
    number
}

#[tokio::test]
async fn a_customer_contacts_support_staff_reply_and_the_customer_answers() {
    for t in TestPortal::every_backend().await {
        let email = "anna@renewals.example";
        let mut anna = t.customer_with_company(email, "Renewals Office").await;
        let order = t
            .place_lan_order(email, 3, "2026-01-01", "2027-01-01")
            .await;
        let number = send_request(
            &mut anna,
            &order.number,
            &[
                ("attachments", "screen shot.png", PNG),
                ("attachments", "status.txt", STATUS),
            ],
        )
        .await;
        let year = chrono::Utc::now().format("%Y").to_string();
        assert_eq!(number, format!("SR-{year}-000001"));

        let page = anna
            .get(&format!("/account/support/{number}?sent=1"))
            .await
            .ok();
        assert!(
            page.has("Renew now is not offered for our order."),
            "{}",
            page.text
        );
        assert!(page.has(&format!("Order {}", order.number)));
        assert!(page.has("Post-purchase support &#62; Subscription management &#62; Renewals"));
        assert!(page.has("screen shot.png") && page.has("status.txt"));
        let list = anna.get("/account/support").await.ok();
        assert!(list.has(&format!("id=\"open-{number}\"")));

        // The receipt to the customer, and staff told with the files.
        let receipt = t.mails_to(email).await;
        assert!(
            receipt
                .iter()
                .any(|m| m.subject == format!("Your support request {number} was received")),
            "{receipt:?}"
        );
        let staff_address = t.portal.config.staff_notification_email.clone();
        let notes = t.mails_to(&staff_address).await;
        let note = notes
            .iter()
            .find(|m| m.subject.contains(&number))
            .unwrap_or_else(|| panic!("{notes:?}"));
        assert!(note.text.contains("Renew now is not offered"));
        assert!(
            note.text
                .contains(&format!("http://portal.test/staff/support/{number}"))
        );
        let names: Vec<&str> = note.attachments.iter().map(|a| a.0.as_str()).collect();
        assert_eq!(names, ["screen shot.png", "status.txt"]);
        assert_eq!(note.attachments[1].1, STATUS);

        // The attachment downloads as it was sent, for its owner.
        let file_id = first_id_after(&page.text, "/attachments/");
        let file = anna
            .get(&format!("/account/support/{number}/attachments/{file_id}"))
            .await
            .ok();
        assert!(file.bytes == PNG || file.bytes == STATUS);
        assert!(file.disposition.starts_with("attachment"));

        // The back office: the queue, assign, reply.
        let mut staff = t.staff().await;
        let queue = staff.get("/staff/support").await.ok();
        assert!(
            queue.has(&format!("id=\"open-{number}\"")),
            "{}",
            queue.text
        );
        let opened = staff.get(&format!("/staff/support/{number}")).await.ok();
        let staff_id = t.user(crate::support::STAFF_EMAIL).await.id;
        assert!(
            opened.has(&format!("<option value=\"{staff_id}\"")),
            "{}",
            opened.text
        );
        let assigned = staff
            .submit(
                &format!("/staff/support/{number}/assign"),
                &[("assignee", &staff_id)],
            )
            .await;
        assert_eq!(assigned.status, StatusCode::SEE_OTHER, "{}", assigned.text);
        staff.get(&format!("/staff/support/{number}")).await.ok();
        let pdf: &[u8] = b"%PDF-1.7\n\x00\x01 binary";
        let refused = staff
            .submit_files(
                &format!("/staff/support/{number}/reply"),
                &[("message", "See the attached PDF.")],
                &[("attachments", "guide.pdf", pdf)],
            )
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            refused.has("guide.pdf is neither an image"),
            "{}",
            refused.text
        );
        assert!(refused.has("See the attached PDF."), "the draft is kept");
        let replied = staff
            .submit_files(
                &format!("/staff/support/{number}/reply"),
                &[("message", "Renew now appears 90 days before the end.")],
                &[],
            )
            .await;
        assert_eq!(replied.status, StatusCode::SEE_OTHER, "{}", replied.text);
        let reply_mail = t
            .mails_to(email)
            .await
            .into_iter()
            .find(|m| m.subject == format!("Reply to your support request {number}"))
            .expect("the reply by e-mail");
        assert!(
            reply_mail
                .text
                .contains("Renew now appears 90 days before the end.")
        );
        assert!(
            reply_mail
                .text
                .contains(&format!("http://portal.test/account/support/{number}"))
        );

        let answered = anna.get(&format!("/account/support/{number}")).await.ok();
        assert!(answered.has("Renew now appears 90 days before the end."));
        assert!(answered.has("Support agent"));
        assert!(answered.has(">Answered<"), "{}", answered.text);

        // An empty answer is refused on the request's page, nothing stored.
        let empty = anna
            .submit_files(
                &format!("/account/support/{number}/answer"),
                &[("message", " ")],
                &[],
            )
            .await;
        assert_eq!(
            empty.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            empty.text
        );
        assert!(empty.has("Write your message") && empty.has("Renew now appears 90 days"));
        // The customer answers; the assignee is told.
        let answer = anna
            .submit_files(
                &format!("/account/support/{number}/answer"),
                &[("message", "Thank you, that explains it.")],
                &[],
            )
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.text);
        let told = t.mails_to(crate::support::STAFF_EMAIL).await;
        assert!(
            told.iter()
                .any(|m| m.subject.contains(&number)
                    && m.text.contains("Thank you, that explains it.")),
            "{told:?}"
        );

        staff.get(&format!("/staff/support/{number}")).await.ok();
        let closed = staff
            .submit(&format!("/staff/support/{number}/close"), &[])
            .await;
        assert_eq!(closed.status, StatusCode::SEE_OTHER);
        let request = t
            .portal
            .store
            .support_request(&number)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(request.status, SupportStatus::Closed);
        assert_eq!(
            request.assignee_email.as_deref(),
            Some(crate::support::STAFF_EMAIL)
        );
        let waiting = staff.get("/staff/support").await.ok();
        assert!(
            !waiting.has(&format!("id=\"open-{number}\"")),
            "closed leaves the queue"
        );
    }
}

#[tokio::test]
async fn another_organization_sees_nothing_of_a_support_request() {
    for t in TestPortal::every_backend().await {
        let email = "owner@private.example";
        let mut owner = t.customer_with_company(email, "Private Office").await;
        let order = t
            .place_lan_order(email, 2, "2026-01-01", "2027-01-01")
            .await;
        let number =
            send_request(&mut owner, &order.number, &[("attachments", "s.png", PNG)]).await;
        let page = owner.get(&format!("/account/support/{number}")).await.ok();
        let file_id = first_id_after(&page.text, "/attachments/");

        let mut other = t
            .customer_with_company("eve@other.example", "Other Office")
            .await;
        let list = other.get("/account/support").await.ok();
        assert!(!list.has(&number), "{}", list.text);
        for path in [
            format!("/account/support/{number}"),
            format!("/account/support/{number}/attachments/{file_id}"),
        ] {
            let seen = other.get(&path).await;
            assert_eq!(seen.status, StatusCode::NOT_FOUND, "{path}");
            assert!(!seen.has("Renew now is not offered"));
        }
        other.get("/account/support").await.ok();
        let answered = other
            .submit_files(
                &format!("/account/support/{number}/answer"),
                &[("message", "let me in")],
                &[],
            )
            .await;
        assert_eq!(answered.status, StatusCode::NOT_FOUND);
        // Their form offers only their own orders, and refuses another's.
        let form = other.get("/support/new").await.ok();
        assert!(!form.has(&order.number));
        let refused = other
            .submit_files(
                "/support/new",
                &[
                    ("topic", RENEWALS),
                    ("about", &format!("order:{}", order.number)),
                    ("message", "about their order"),
                ],
                &[],
            )
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        // The back office is for staff.
        assert_eq!(
            other.get("/staff/support").await.status,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            other.get(&format!("/staff/support/{number}")).await.status,
            StatusCode::FORBIDDEN
        );
        let messages = t
            .portal
            .store
            .support_requests_of_organization(&t.user("eve@other.example").await.organization_id)
            .await
            .unwrap();
        assert!(messages.is_empty());
    }
}

/// A bad form: what is wrong, its fields, its files, and what the answer says.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<File<'a>>, &'a str);
/// A file for `Browser::submit_files`: (field, file name, content).
type File<'a> = (&'a str, &'a str, &'a [u8]);

#[tokio::test]
async fn bad_support_forms_are_refused_with_a_clear_message_and_nothing_stored() {
    for t in TestPortal::every_backend().await {
        let email = "careless@forms.example";
        let mut b = t.customer(email, "Careless Office").await;
        let mails_before = t.mails().await.len();
        let big = vec![b'a'; MAX_ATTACHMENT_BYTES + 1];
        let pdf: &[u8] = b"%PDF-1.7\n\x00\x01\x02\x03 binary";
        let many: Vec<File> = (0..=MAX_ATTACHMENTS)
            .map(|_| ("attachments", "status.txt", STATUS))
            .collect();
        let long = "x".repeat(10_001);
        let cases: Vec<Case> = vec![
            (
                "empty message",
                vec![("topic", RENEWALS), ("message", "   ")],
                vec![],
                "Write your message",
            ),
            (
                "too long",
                vec![("topic", RENEWALS), ("message", &long)],
                vec![],
                "it may be at most 10,000",
            ),
            (
                "no topic",
                vec![("topic", ""), ("message", "help")],
                vec![],
                "Choose the topic",
            ),
            (
                "too many files",
                vec![("topic", RENEWALS), ("message", "help")],
                many.clone(),
                "At most 5 files",
            ),
            (
                "too large a file",
                vec![("topic", RENEWALS), ("message", "help")],
                vec![("attachments", "huge.log", &big)],
                "each file may be at most 2 MB",
            ),
            (
                "not an image or text",
                vec![("topic", RENEWALS), ("message", "help")],
                vec![("attachments", "report.pdf", pdf)],
                "report.pdf is neither an image (PNG, JPEG, GIF, WebP) nor text",
            ),
            (
                "an order that is not theirs",
                vec![
                    ("topic", RENEWALS),
                    ("message", "help"),
                    ("about", "order:ORD-1999-000001"),
                ],
                vec![],
                "Choose one of your organization&#39;s orders",
            ),
        ];
        for (what, fields, files, says) in cases {
            b.get("/support/new").await.ok();
            let page = b.submit_files("/support/new", &fields, &files).await;
            assert_eq!(
                page.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{what}: {}",
                page.text
            );
            assert!(page.has(says), "{what}: {}", page.text);
            assert!(page.has("id=\"form-error\""), "{what}: shown on the form");
        }
        // A form larger than every allowed file together is refused before it is read.
        let whole = vec![b'a'; tessera_portal::support::MAX_FORM_BYTES + 1];
        b.get("/support/new").await.ok();
        let page = b
            .submit_files(
                "/support/new",
                &[("topic", RENEWALS), ("message", "help")],
                &[("attachments", "all.txt", &whole)],
            )
            .await;
        assert_eq!(page.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", page.text);
        assert!(page.has("attach at most 5 files"), "{}", page.text);
        // Not multipart at all: a clear 422, not a 500.
        let page = b
            .submit("/support/new", &[("topic", RENEWALS), ("message", "help")])
            .await;
        assert_eq!(
            page.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            page.text
        );

        let user = t.user(email).await;
        let stored = t
            .portal
            .store
            .support_requests_of_organization(&user.organization_id)
            .await
            .unwrap();
        assert!(stored.is_empty(), "nothing stored: {stored:?}");
        assert_eq!(t.mails().await.len(), mails_before, "nothing sent");

        // Without the CSRF secret the form is refused like any other.
        let mut fresh = t.browser();
        fresh.sign_in(email, crate::support::PASSWORD).await;
        fresh.csrf = Some("wrong".into());
        let forged = fresh
            .submit_files(
                "/support/new",
                &[("topic", RENEWALS), ("message", "x")],
                &[],
            )
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn a_support_message_left_unannounced_by_a_stop_is_announced_once_afterwards() {
    for t in TestPortal::every_backend().await {
        let email = "late@support.example";
        t.customer(email, "Late Office").await;
        let user = t.user(email).await;
        // What `POST /support/new` commits before it stores the e-mails.
        let (request, _) = t
            .portal
            .store
            .create_support_request(
                &NewSupportRequest {
                    organization_id: &user.organization_id,
                    user_id: &user.id,
                    topic: RENEWALS,
                    about: None,
                    body: "Stopped before the e-mails",
                    attachments: &[],
                },
                t.portal.now(),
            )
            .await
            .unwrap();
        let about = |m: &crate::support::Mail| m.subject.contains(&request.number);
        assert!(!t.mails().await.iter().any(about));
        assert_eq!(
            announce_pending(&t.portal, 60_000).await.unwrap(),
            0,
            "within the grace period"
        );
        assert_eq!(announce_pending(&t.portal, -1_000).await.unwrap(), 1);
        assert_eq!(
            t.mails_to(email).await.iter().filter(|m| about(m)).count(),
            1
        );
        let staff = t.portal.config.staff_notification_email.clone();
        assert_eq!(
            t.mails_to(&staff).await.iter().filter(|m| about(m)).count(),
            1
        );
        assert_eq!(
            announce_pending(&t.portal, -1_000).await.unwrap(),
            0,
            "once"
        );
    }
}

#[tokio::test]
async fn in_an_organization_only_those_who_see_its_orders_see_a_request_about_one() {
    for t in TestPortal::every_backend().await {
        let (mut manager, order, team) = t.paid_named_order("cm@team.example", "3").await;
        let about_order = send_request(&mut manager, &order, &[]).await;
        // A user of the team does not see the organization's orders, so neither the
        // request about one nor the order in their form.
        let mut user = t.invited(&mut manager, &team, "user@team.example").await;
        assert_eq!(
            user.get(&format!("/account/support/{about_order}"))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert!(!user.get("/account/support").await.ok().has(&about_order));
        let form = user.get("/support/new").await.ok();
        assert!(!form.has(&order), "{}", form.text);
        // Their own request, about nothing in particular, is theirs alone.
        let sent = user
            .submit_files(
                "/support/new",
                &[("topic", "named-users"), ("message", "My sign-in fails.")],
                &[],
            )
            .await;
        assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.text);
        let own = sent.location.unwrap().replace("?sent=1", "");
        assert!(user.get(&own).await.ok().has("My sign-in fails."));
        assert_eq!(manager.get(&own).await.status, StatusCode::NOT_FOUND);
        assert!(
            manager
                .get(&format!("/account/support/{about_order}"))
                .await
                .ok()
                .has("Renew now is not offered")
        );
    }
}
