//! An order whose commit landed but whose e-mails did not (the portal stopped in
//! between) is announced afterwards by the recovery task, once, on every backend.

use crate::support;

use support::TestPortal;
use tessera_portal::ordering::announce_pending;

#[tokio::test]
async fn an_order_left_unannounced_by_a_stop_is_announced_once_afterwards() {
    for t in TestPortal::every_backend().await {
        let email = "late@buyer.example";
        t.customer_with_company(email, "Late Buyer").await;
        // What `checkout` commits before it stores the e-mails: the process "stops" here.
        let placed = t
            .place_lan_order(email, 3, "2026-01-01", "2027-01-01")
            .await;
        let (id, number) = (placed.id, placed.number);
        let about = |subject: &str| subject.contains(&number);
        assert!(
            !t.mails_to(email).await.iter().any(|m| about(&m.subject)),
            "nothing was sent before the recovery"
        );

        // Within the grace period (a checkout may still be sending) nothing is done.
        assert_eq!(announce_pending(&t.portal, 60_000).await.unwrap(), 0);
        assert_eq!(announce_pending(&t.portal, -1_000).await.unwrap(), 1);
        let to_buyer: Vec<_> = t
            .mails_to(email)
            .await
            .into_iter()
            .filter(|m| about(&m.subject))
            .collect();
        assert_eq!(to_buyer.len(), 1, "the invoice e-mail, once");
        assert_eq!(to_buyer[0].attachments.len(), 1, "with the invoice PDF");
        let staff = t.portal.config.staff_notification_email.clone();
        let staff_note = t
            .mails_to(&staff)
            .await
            .iter()
            .filter(|m| about(&m.subject))
            .count();
        assert_eq!(staff_note, 1, "the staff are told of the order, once");

        // Announced once: another pass sends nothing.
        assert_eq!(announce_pending(&t.portal, -1_000).await.unwrap(), 0);

        // Marked Paid, and the process "stops" before the Paid e-mail.
        t.mark_paid_in_store(
            &id,
            "2026-01-01",
            "2027-01-01",
            "v4.public.test-activation-key",
        )
        .await;
        assert_eq!(announce_pending(&t.portal, -1_000).await.unwrap(), 1);
        let paid: Vec<_> = t
            .mails_to(email)
            .await
            .into_iter()
            .filter(|m| {
                about(&m.subject) && m.attachments.iter().any(|(n, _)| n.contains("activation"))
            })
            .collect();
        assert_eq!(paid.len(), 1, "the Paid e-mail, once");
        assert!(
            paid[0]
                .attachments
                .iter()
                .any(|(name, body)| name.contains("activation")
                    && body.trim_ascii() == b"v4.public.test-activation-key"),
            "with the activation key: {:?}",
            paid[0].attachments
        );
        assert_eq!(announce_pending(&t.portal, -1_000).await.unwrap(), 0);
    }
}
