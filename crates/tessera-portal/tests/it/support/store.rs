//! Set-up and look-ups straight in the portal's store, for what a test does not drive
//! through the pages: the records of an account, its organization, an order or a named
//! subscription (each must exist); token packs granted; orders placed without Checkout
//! and marked Paid without Mark Paid (so no e-mail is sent).

use tessera_store::portal::{
    NamedSubscriptionRecord, NewOrder, NewTokenPack, OrderRecord, OrganizationRecord, PaidOrder,
    ServerKind, TokenPackRecord, UserRecord,
};
use tessera_token::{RegistrationKey, SigningKey};

use super::TestPortal;

impl TestPortal {
    /// The account of `email`.
    pub async fn user(&self, email: &str) -> UserRecord {
        self.portal
            .store
            .user_by_email(email)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no account {email}"))
    }

    /// The organization of `email`'s account.
    pub async fn organization_of(&self, email: &str) -> OrganizationRecord {
        let user = self.user(email).await;
        self.portal
            .store
            .organization(&user.organization_id)
            .await
            .unwrap()
            .unwrap()
    }

    /// The order numbered `number`.
    pub async fn order(&self, number: &str) -> OrderRecord {
        self.portal
            .store
            .order_by_number(number)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no order {number}"))
    }

    /// The named-user subscription `id`.
    pub async fn named_subscription(&self, id: &str) -> NamedSubscriptionRecord {
        self.portal
            .store
            .named_subscription(id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no subscription {id}"))
    }

    /// A pack of `tokens` for the organization, drawn until `expires_on` (YYYY-MM-DD), as
    /// staff grant it.
    pub async fn grant_tokens(
        &self,
        organization_id: &str,
        tokens: i64,
        expires_on: &str,
    ) -> TokenPackRecord {
        self.portal
            .store
            .add_token_pack(
                &NewTokenPack {
                    organization_id,
                    tokens,
                    expires_on,
                    granted_by: "test",
                    note: "",
                },
                self.portal.now(),
            )
            .await
            .unwrap()
    }

    /// A Pending order of `seats` AutoCAD seats (1 year, a LAN license server, 100.00 EUR
    /// a seat + 20 % tax) by `email` for their organization, from `start` to `end`
    /// (YYYY-MM-DD): what Checkout commits before it stores the e-mails, so none is sent.
    pub async fn place_lan_order(
        &self,
        email: &str,
        seats: u32,
        start: &str,
        end: &str,
    ) -> OrderRecord {
        let user = self.user(email).await;
        let org = self.organization_of(email).await;
        let net_minor = 10_000 * i64::from(seats);
        let order = NewOrder {
            cart_item_id: None,
            user_id: user.id.clone(),
            organization_id: org.id.clone(),
            customer_email: user.email.clone(),
            company: org.company(),
            option_id: "autocad-1y".into(),
            product_name: "AutoCAD plugins".into(),
            option_name: "1 year".into(),
            licensed: vec!["autocad".into()],
            months: 12,
            borrow_max_hours: 72,
            seats,
            currency: "EUR".into(),
            unit_price_minor: 10_000,
            tax_rate_bp: 2_000,
            net_minor,
            tax_minor: net_minor / 5,
            gross_minor: net_minor + net_minor / 5,
            contract_and_acts: false,
            server_kind: ServerKind::Lan,
            registration_key: Some(
                RegistrationKey::derive(SigningKey::generate().verifying_key(), "office-machine")
                    .to_string(),
            ),
            start_date: start.into(),
            end_date: end.into(),
        };
        let mut placed = self
            .portal
            .store
            .place_orders(&[order], "nobody", self.portal.now())
            .await
            .unwrap()
            .unwrap();
        placed.remove(0)
    }

    /// Marks the order Paid straight in the store, for the period from `start` to `end`
    /// (YYYY-MM-DD) with this activation key: what Mark Paid commits before it stores the
    /// e-mail, so none is sent.
    pub async fn mark_paid_in_store(
        &self,
        order_id: &str,
        start: &str,
        end: &str,
        activation_key: &str,
    ) {
        let paid = PaidOrder {
            start_date: start,
            end_date: end,
            activation_key: Some(activation_key),
        };
        let done = self
            .portal
            .store
            .mark_order_paid(order_id, &paid, self.portal.now())
            .await
            .unwrap();
        assert!(done, "order {order_id} was not Pending");
    }
}
