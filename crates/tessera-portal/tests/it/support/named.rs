//! Named-user seats and teams: a buyer whose Share (named-user) order is Paid, with their
//! team; the ids on the team pages; invitations accepted from the e-mail; seats assigned;
//! sign-ins through the named-user API.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{Browser, PASSWORD, Page, TestPortal, first_id_after, post_json, today};

impl TestPortal {
    /// A buyer whose named-user order is Paid: signs `email` up (organization "Office",
    /// company "Office Ltd"), orders `seats` Share seats and has staff mark the order Paid
    /// from today. Answers the buyer's browser, the order's number and the id of the team
    /// its seats are in.
    pub async fn paid_named_order(&self, email: &str, seats: &str) -> (Browser, String, String) {
        self.paid_named_order_from(email, seats, &today()).await
    }

    /// As [`TestPortal::paid_named_order`], with the subscription period starting on
    /// `start`.
    pub async fn paid_named_order_from(
        &self,
        email: &str,
        seats: &str,
        start: &str,
    ) -> (Browser, String, String) {
        let mut buyer = self.customer_with_company(email, "Office").await;
        let added = buyer.add_share_to_cart(seats, None).await;
        assert!(added.status.is_redirection(), "{}", added.text);
        let number = buyer.place_order().await;
        self.mark_paid(&number, start).await;
        let team = buyer.first_team().await;
        (buyer, number, team)
    }

    /// `email` (with [`PASSWORD`]) signs in on `device` for `product` through the
    /// named-user API, as the program does; the status and the JSON answered (a named
    /// token when 201).
    pub async fn activate(&self, email: &str, device: &str, product: &str) -> (StatusCode, Value) {
        post_json(
            &self.app,
            "/api/v1/named/activations",
            None,
            json!({"email": email, "password": PASSWORD, "device": device, "product": product}),
        )
        .await
    }

    /// `admin` invites `email` to the team, who accepts with the link from their e-mail;
    /// their browser.
    pub async fn invited(&self, admin: &mut Browser, team: &str, email: &str) -> Browser {
        admin.get(&format!("/account/teams/{team}")).await;
        let sent = admin
            .submit(
                &format!("/account/teams/{team}/invite"),
                &[
                    ("email", email),
                    ("first_name", "Test"),
                    ("last_name", "Person"),
                ],
            )
            .await;
        assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.text);
        self.accept_invitation(email).await
    }

    /// `email` accepts the newest invitation they were sent, choosing [`PASSWORD`]; their
    /// browser.
    pub async fn accept_invitation(&self, email: &str) -> Browser {
        let link = self.link_in_last_mail(email, "/invitation?token=").await;
        self.accept_invitation_at(&link).await
    }

    /// Accepts the invitation at `link` (its path, from the e-mail), choosing
    /// [`PASSWORD`]; the invited person's browser.
    pub async fn accept_invitation_at(&self, link: &str) -> Browser {
        let mut b = self.browser();
        let page = b.get(link).await.ok();
        assert!(page.has("Accept the invitation"), "{}", page.text);
        let token = link.split("token=").nth(1).unwrap().to_owned();
        let done = b
            .submit(
                "/invitation",
                &[
                    ("token", &token),
                    ("password", PASSWORD),
                    ("password_again", PASSWORD),
                ],
            )
            .await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text);
        b
    }
}

impl Browser {
    /// Fills the Corporate subscription form of Share (named user, 1 year) for `seats`
    /// people, in `team` when given (else the form's default), and presses Add to Cart;
    /// the answer. No license server to choose for a named-user product: neither key
    /// nor web.
    pub async fn add_share_to_cart(&mut self, seats: &str, team: Option<&str>) -> Page {
        self.get("/buy/share").await;
        let mut fields = vec![("option", "share-1y"), ("start", ""), ("users", seats)];
        if let Some(team) = team {
            fields.push(("team", team));
        }
        self.submit("/buy/share", &fields).await
    }

    /// The id of the first team on Account → Teams.
    pub async fn first_team(&mut self) -> String {
        let teams = self.get("/account/teams").await.ok();
        first_id_after(&teams.text, "/account/teams/")
    }

    /// On the subscription's page, assigns a seat to `email` (invited when new to the
    /// team); the answer.
    pub async fn assign_seat(&mut self, team: &str, sub: &str, email: &str) -> Page {
        let page = format!("/account/teams/{team}/subscriptions/{sub}");
        self.get(&page).await;
        self.submit(&format!("{page}/assign"), &[("email", email)])
            .await
    }
}

/// The id of the first subscription on a team page.
pub fn subscription_id(team_page: &str) -> String {
    first_id_after(team_page, "id=\"subscription-")
}
