//! Teams and named-user seats on SQLite and, when reachable, PostgreSQL: the buyer's
//! seat, assignments that never exceed the seats (one at a time, in a batch, and from
//! many tasks at once), the roles' rules, removal freeing seats, and one device at a time.

use tessera_core::Millis;
use tessera_store::Store;
use tessera_store::portal::{
    AssignmentBatch, BatchRow, MemberRole, NewAccount, NewInvitation, NewNamedSubscription, Role,
    RowOutcome, TeamError,
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
const WEEK: Millis = 7 * 24 * 3600 * 1000;

/// A buyer with their organization, default team and a named subscription of `seats`.
struct Office {
    buyer: String,
    org: String,
    team: String,
    sub: String,
}

async fn office(store: &Store, email: &str, seats: u32) -> Office {
    let (user, org) = store
        .create_account(
            &NewAccount {
                email,
                password_hash: "$argon2id$test",
                role: Role::Customer,
                organization_name: "Office",
                slug: "office",
                confirmed_at: Some(NOW),
            },
            NOW,
        )
        .await
        .unwrap()
        .unwrap();
    let team = store
        .default_team(&org.id, &user.id, "Office team", NOW)
        .await
        .unwrap();
    let licensed = vec!["share".to_owned()];
    let sub = store
        .create_named_subscription(
            &NewNamedSubscription {
                organization_id: &org.id,
                team_id: &team.id,
                order_id: Some("order-1"),
                product_id: "share",
                product_name: "Share",
                licensed: &licensed,
                seats,
                start_date: "2026-01-01",
                end_date: "2026-12-31",
                buyer_user_id: &user.id,
            },
            NOW,
        )
        .await
        .unwrap();
    Office {
        buyer: user.id,
        org: org.id,
        team: team.id,
        sub: sub.id,
    }
}

async fn invite(store: &Store, o: &Office, email: &str) -> String {
    store
        .invite(
            &NewInvitation {
                organization_id: &o.org,
                team_id: &o.team,
                email,
                first_name: "First",
                last_name: "Last",
                invited_by: &o.buyer,
                token_hash: &format!("hash-{email}"),
                expires_at: NOW + WEEK,
            },
            NOW,
        )
        .await
        .unwrap()
        .user_id
}

#[tokio::test]
async fn the_buyer_holds_a_seat_from_the_start_and_a_paid_order_makes_one_subscription() {
    for (store, _keep) in stores().await {
        let o = office(&store, "buyer@office.example", 3).await;
        let sub = store.named_subscription(&o.sub).await.unwrap().unwrap();
        assert_eq!((sub.seats, sub.assigned), (3, 1));
        let assignees = store.assignees(&o.sub).await.unwrap();
        assert_eq!(assignees.len(), 1);
        assert_eq!(assignees[0].user_id, o.buyer);
        assert_eq!(
            store.member_role(&o.team, &o.buyer).await.unwrap(),
            Some(MemberRole::PrimaryAdmin)
        );
        // The same order again (a retried Paid) makes nothing new.
        let licensed = vec!["share".to_owned()];
        let again = store
            .create_named_subscription(
                &NewNamedSubscription {
                    organization_id: &o.org,
                    team_id: &o.team,
                    order_id: Some("order-1"),
                    product_id: "share",
                    product_name: "Share",
                    licensed: &licensed,
                    seats: 3,
                    start_date: "2026-01-01",
                    end_date: "2026-12-31",
                    buyer_user_id: &o.buyer,
                },
                NOW,
            )
            .await
            .unwrap();
        assert_eq!(again.id, o.sub);
        assert_eq!(store.team_subscriptions(&o.team).await.unwrap().len(), 1);
        // The buyer can unassign their own seat.
        assert!(store.unassign_seat(&o.sub, &o.buyer).await.unwrap());
        assert_eq!(store.assignees(&o.sub).await.unwrap().len(), 0);
    }
}

#[tokio::test]
async fn an_assignment_beyond_the_seats_is_refused_and_nothing_is_half_applied() {
    for (store, _keep) in stores().await {
        let o = office(&store, "buyer@office.example", 2).await;
        let anna = invite(&store, &o, "anna@office.example").await;
        let bob = invite(&store, &o, "bob@office.example").await;
        let err = store
            .assign_seats(&o.sub, &[&anna, &bob], &o.buyer, NOW)
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                TeamError::NotEnoughSeats {
                    seats: 2,
                    assigned: 1,
                    wanted: 2,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            store.assignees(&o.sub).await.unwrap().len(),
            1,
            "nothing applied"
        );
        assert_eq!(
            store
                .assign_seats(&o.sub, &[&anna], &o.buyer, NOW)
                .await
                .unwrap(),
            vec![true]
        );
        // Someone who has the product already takes no second seat (and no refusal).
        assert_eq!(
            store
                .assign_seats(&o.sub, &[&anna], &o.buyer, NOW)
                .await
                .unwrap(),
            vec![false]
        );
        assert!(matches!(
            store.assign_seats(&o.sub, &[&bob], &o.buyer, NOW).await,
            Err(TeamError::NotEnoughSeats { .. })
        ));
        // Moving the seat: unassign one person, assign another.
        assert!(store.unassign_seat(&o.sub, &anna).await.unwrap());
        store
            .assign_seats(&o.sub, &[&bob], &o.buyer, NOW)
            .await
            .unwrap();
        let held: Vec<String> = store
            .assignees(&o.sub)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.email)
            .collect();
        assert_eq!(held, vec!["bob@office.example", "buyer@office.example"]);
    }
}

#[tokio::test]
async fn concurrent_assignments_never_exceed_the_seats() {
    for (store, _keep) in stores().await {
        let o = office(&store, "buyer@office.example", 4).await;
        let mut people = Vec::new();
        for i in 0..12 {
            people.push(invite(&store, &o, &format!("p{i}@office.example")).await);
        }
        let tasks: Vec<_> = people
            .iter()
            .map(|p| {
                let store = store.clone();
                let sub = o.sub.clone();
                let by = o.buyer.clone();
                let p = p.clone();
                tokio::spawn(async move { store.assign_seats(&sub, &[&p], &by, NOW).await })
            })
            .collect();
        let mut granted = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(v) if v == vec![true] => granted += 1,
                Err(TeamError::NotEnoughSeats { .. }) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(granted, 3, "4 seats, the buyer holds one");
        assert_eq!(store.assignees(&o.sub).await.unwrap().len(), 4);
    }
}

fn row(email: &str, sub: &str) -> BatchRow {
    BatchRow {
        email: email.into(),
        first_name: "F".into(),
        last_name: "L".into(),
        subscription_id: sub.into(),
        token_hash: format!("batch-{email}"),
    }
}

#[tokio::test]
async fn a_batch_is_applied_whole_or_not_at_all_with_a_reason_per_row() {
    for (store, _keep) in stores().await {
        let o = office(&store, "buyer@office.example", 3).await;
        // Four rows for two free seats: the buyer's row takes no second seat, the last
        // one would exceed the seats, so nothing is applied.
        let rows = vec![
            row("a@office.example", &o.sub),
            row("buyer@office.example", &o.sub),
            row("b@office.example", &o.sub),
            row("c@office.example", &o.sub),
        ];
        let (applied, outcomes) = store
            .apply_assignment_batch(
                &AssignmentBatch {
                    organization_id: &o.org,
                    team_id: &o.team,
                    rows: &rows,
                    by: &o.buyer,
                    invitation_expires_at: NOW + WEEK,
                    check_only: false,
                },
                NOW,
            )
            .await
            .unwrap();
        assert!(!applied);
        assert!(matches!(
            outcomes[0],
            RowOutcome::Assigned { invited: true, .. }
        ));
        assert!(matches!(outcomes[1], RowOutcome::AlreadyAssigned { .. }));
        assert!(matches!(outcomes[2], RowOutcome::Assigned { .. }));
        match &outcomes[3] {
            RowOutcome::Failed(why) => assert!(why.contains("exceed"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(store.assignees(&o.sub).await.unwrap().len(), 1);
        assert!(
            store
                .user_by_email("a@office.example")
                .await
                .unwrap()
                .is_none(),
            "no one invited"
        );
        assert_eq!(store.team_members(&o.team).await.unwrap().len(), 1);

        // Checking only applies nothing, even when every row would pass.
        let (applied, outcomes) = store
            .apply_assignment_batch(
                &AssignmentBatch {
                    organization_id: &o.org,
                    team_id: &o.team,
                    rows: &rows[..3],
                    by: &o.buyer,
                    invitation_expires_at: NOW + WEEK,
                    check_only: true,
                },
                NOW,
            )
            .await
            .unwrap();
        assert!(!applied);
        assert!(outcomes.iter().all(|r| !matches!(r, RowOutcome::Failed(_))));
        assert_eq!(store.assignees(&o.sub).await.unwrap().len(), 1);

        // Without the last row it goes through: invited and assigned.
        let (applied, outcomes) = store
            .apply_assignment_batch(
                &AssignmentBatch {
                    organization_id: &o.org,
                    team_id: &o.team,
                    rows: &rows[..3],
                    by: &o.buyer,
                    invitation_expires_at: NOW + WEEK,
                    check_only: false,
                },
                NOW,
            )
            .await
            .unwrap();
        assert!(applied, "{outcomes:?}");
        assert_eq!(store.assignees(&o.sub).await.unwrap().len(), 3);
        let a = store
            .user_by_email("a@office.example")
            .await
            .unwrap()
            .unwrap();
        assert!(a.confirmed_at.is_none(), "invited, not yet accepted");
        assert!(
            store
                .invitation("batch-a@office.example")
                .await
                .unwrap()
                .is_some()
        );

        // A person of another organization, or an unknown subscription, fails its row.
        let other = store
            .create_account(
                &NewAccount {
                    email: "x@elsewhere.example",
                    password_hash: "h",
                    role: Role::Customer,
                    organization_name: "Elsewhere",
                    slug: "elsewhere",
                    confirmed_at: Some(NOW),
                },
                NOW,
            )
            .await
            .unwrap();
        assert!(other.is_some());
        let (applied, outcomes) = store
            .apply_assignment_batch(
                &AssignmentBatch {
                    organization_id: &o.org,
                    team_id: &o.team,
                    rows: &[
                        row("x@elsewhere.example", &o.sub),
                        row("d@office.example", "nope"),
                    ],
                    by: &o.buyer,
                    invitation_expires_at: NOW + WEEK,
                    check_only: false,
                },
                NOW,
            )
            .await
            .unwrap();
        assert!(!applied);
        assert!(
            matches!(&outcomes[0], RowOutcome::Failed(w) if w.contains("another organization"))
        );
        assert!(
            matches!(&outcomes[1], RowOutcome::Failed(w) if w.contains("no such subscription"))
        );
    }
}

#[tokio::test]
async fn only_a_secondary_admin_becomes_primary_and_owner_changes_are_recorded() {
    for (store, _keep) in stores().await {
        let o = office(&store, "buyer@office.example", 3).await;
        let anna = invite(&store, &o, "anna@office.example").await;
        let bob = invite(&store, &o, "bob@office.example").await;
        assert!(matches!(
            store
                .promote_primary_admin(&o.team, &anna, &o.buyer, NOW)
                .await,
            Err(TeamError::NotSecondaryAdmin)
        ));
        store
            .set_member_role(&o.team, &anna, MemberRole::SecondaryAdmin)
            .await
            .unwrap();
        store
            .promote_primary_admin(&o.team, &anna, &o.buyer, NOW)
            .await
            .unwrap();
        assert_eq!(
            store.member_role(&o.team, &anna).await.unwrap(),
            Some(MemberRole::PrimaryAdmin)
        );
        assert_eq!(
            store.member_role(&o.team, &o.buyer).await.unwrap(),
            Some(MemberRole::SecondaryAdmin),
            "the old primary becomes secondary"
        );
        let team = store.team(&o.team).await.unwrap().unwrap();
        assert_eq!(team.owner_user_id, o.buyer, "the owner does not change");
        // The primary admin's role is not changed by hand.
        assert!(matches!(
            store
                .set_member_role(&o.team, &anna, MemberRole::User)
                .await,
            Err(TeamError::PrimaryAdminStays)
        ));
        store
            .change_contract_manager(&o.team, &bob, &o.buyer, NOW + 1)
            .await
            .unwrap();
        store
            .set_software_coordinator(&o.team, Some(&anna), &bob, NOW + 2)
            .await
            .unwrap();
        let team = store.team(&o.team).await.unwrap().unwrap();
        assert_eq!(team.owner_user_id, bob);
        assert_eq!(team.coordinator(), anna);
        let changes = store.role_changes(&o.team).await.unwrap();
        let whats: Vec<&str> = changes.iter().map(|c| c.what.as_str()).collect();
        assert_eq!(
            whats,
            vec!["software_coordinator", "contract_manager", "primary_admin"]
        );
        assert_eq!(changes[1].from_user_id.as_deref(), Some(o.buyer.as_str()));
        assert_eq!(changes[1].to_user_id.as_deref(), Some(bob.as_str()));
    }
}

#[tokio::test]
async fn removing_a_person_frees_their_seats_and_ends_their_sign_in() {
    for (store, _keep) in stores().await {
        let o = office(&store, "buyer@office.example", 2).await;
        let anna = invite(&store, &o, "anna@office.example").await;
        store
            .assign_seats(&o.sub, &[&anna], &o.buyer, NOW)
            .await
            .unwrap();
        let session = store
            .start_named_session(&anna, "dev-a", NOW)
            .await
            .unwrap();
        let lost = store.remove_member(&o.team, &anna, NOW + 1).await.unwrap();
        assert_eq!(lost.len(), 1);
        assert_eq!(store.assignees(&o.sub).await.unwrap().len(), 1);
        assert!(store.member_role(&o.team, &anna).await.unwrap().is_none());
        let ended = store.named_session(&session.id).await.unwrap().unwrap();
        assert_eq!(ended.end_reason.as_deref(), Some("removed"));
        // The contract manager stays.
        assert!(matches!(
            store.remove_member(&o.team, &o.buyer, NOW).await,
            Err(TeamError::ContractManagerStays)
        ));
        // The freed seat can go to someone else at once.
        let bob = invite(&store, &o, "bob@office.example").await;
        store
            .assign_seats(&o.sub, &[&bob], &o.buyer, NOW)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_sign_in_on_a_second_device_supersedes_the_first() {
    for (store, _keep) in stores().await {
        let o = office(&store, "buyer@office.example", 1).await;
        let a = store
            .start_named_session(&o.buyer, "dev-a", NOW)
            .await
            .unwrap();
        let again = store
            .start_named_session(&o.buyer, "dev-a", NOW + 1)
            .await
            .unwrap();
        assert_eq!(a.id, again.id, "the same device keeps its sign-in");
        let b = store
            .start_named_session(&o.buyer, "dev-b", NOW + 2)
            .await
            .unwrap();
        assert_ne!(a.id, b.id);
        let a = store.named_session(&a.id).await.unwrap().unwrap();
        assert_eq!(a.end_reason.as_deref(), Some("superseded"));
        assert_eq!(store.open_named_sessions(&o.buyer).await.unwrap().len(), 1);
        // Signing in on the first device again supersedes the second.
        let a2 = store
            .start_named_session(&o.buyer, "dev-a", NOW + 3)
            .await
            .unwrap();
        let b = store.named_session(&b.id).await.unwrap().unwrap();
        assert_eq!(b.end_reason.as_deref(), Some("superseded"));
        assert_eq!(
            store.sign_out_all_devices(&o.buyer, NOW + 4).await.unwrap(),
            1
        );
        let a2 = store.named_session(&a2.id).await.unwrap().unwrap();
        assert_eq!(a2.end_reason.as_deref(), Some("signed_out"));
    }
}

#[tokio::test]
async fn an_invitation_is_accepted_once_and_not_after_it_expires() {
    for (store, _keep) in stores().await {
        let o = office(&store, "buyer@office.example", 1).await;
        invite(&store, &o, "late@office.example").await;
        assert!(
            store
                .accept_invitation("hash-late@office.example", "$argon2id$new", NOW + WEEK + 1)
                .await
                .unwrap()
                .is_none()
        );
        // Sent again: a new link works.
        store
            .invite(
                &NewInvitation {
                    organization_id: &o.org,
                    team_id: &o.team,
                    email: "late@office.example",
                    first_name: "",
                    last_name: "",
                    invited_by: &o.buyer,
                    token_hash: "again",
                    expires_at: NOW + 2 * WEEK,
                },
                NOW + WEEK,
            )
            .await
            .unwrap();
        assert!(
            store
                .invitation("hash-late@office.example")
                .await
                .unwrap()
                .is_none()
        );
        let user = store
            .accept_invitation("again", "$argon2id$new", NOW + WEEK + 1)
            .await
            .unwrap()
            .unwrap();
        assert!(
            store
                .accept_invitation("again", "$argon2id$other", NOW + WEEK + 2)
                .await
                .unwrap()
                .is_none()
        );
        let u = store.user(&user).await.unwrap().unwrap();
        assert_eq!(u.password_hash, "$argon2id$new");
        assert!(u.confirmed_at.is_some());
        let members = store.team_members(&o.team).await.unwrap();
        let late = members
            .iter()
            .find(|m| m.email == "late@office.example")
            .unwrap();
        assert!(late.active);
        assert_eq!(late.role, MemberRole::User);
    }
}
