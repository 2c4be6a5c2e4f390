//! The demo customer's orders, placed once through the portal's own checkout and Mark
//! Paid so that the Orders page has what the README and the seeds send a reader to: a
//! Paid LAN order with its activation key for the demo's LAN server, a Paid order with
//! "Use Web License Server", a Paid Share (named user) order whose seats are in the
//! customer's team, and one Pending order for the back office to mark Paid.

use anyhow::Context;
use tessera_portal::PortalState;
use tessera_store::portal::{NewCartItem, OrganizationRecord, ServerKind, UserRecord};

/// The cart the demo's orders are placed from (no browser's session has it).
const DEMO_CART: &str = "demo:orders";

/// One line of the demo's cart: the option, its seats, and the LAN server's
/// registration key (none: Use Web License Server, or a named-user product).
struct Line<'a> {
    option: &'a str,
    seats: u32,
    registration_key: Option<&'a str>,
}

/// Places the demo customer's orders unless their organization has orders already (a
/// demo folder used before): three Paid from today, one Pending.
pub async fn seed(
    portal: &PortalState,
    buyer: &UserRecord,
    registration_key: &str,
) -> anyhow::Result<()> {
    // Read now: with the company info the demo saved for the invoices.
    let organization = &portal
        .store
        .organization(&buyer.organization_id)
        .await?
        .context("the demo customer has no organization")?;
    if !portal
        .store
        .orders_of_organization(&organization.id)
        .await?
        .is_empty()
    {
        return Ok(());
    }
    let paid = [
        Line {
            option: "autocad-1y",
            seats: 5,
            registration_key: Some(registration_key),
        },
        Line {
            option: "autocad-1y",
            seats: 3,
            registration_key: None,
        },
        Line {
            option: "share-1y",
            seats: 3,
            registration_key: None,
        },
    ];
    let today = portal.today().format("%Y-%m-%d").to_string();
    for order in place(portal, buyer, organization, &paid, &today).await? {
        tessera_portal::ordering::mark_paid(portal, &order, &today)
            .await
            .map_err(|e| anyhow::anyhow!("the demo's order {order} was not marked Paid: {e}"))?;
    }
    let pending = [Line {
        option: "revit-1y",
        seats: 2,
        registration_key: Some(registration_key),
    }];
    place(portal, buyer, organization, &pending, &today).await?;
    Ok(())
}

/// Puts the lines in the demo's cart and checks out (bank transfer, with Contract and
/// Acts); the new orders' numbers.
async fn place(
    portal: &PortalState,
    buyer: &UserRecord,
    organization: &OrganizationRecord,
    lines: &[Line<'_>],
    start: &str,
) -> anyhow::Result<Vec<String>> {
    for line in lines {
        let kind = match line.registration_key {
            Some(_) => ServerKind::Lan,
            None => ServerKind::Web,
        };
        portal
            .store
            .add_cart_item(
                DEMO_CART,
                &NewCartItem {
                    option_id: line.option,
                    start_date: start,
                    seats: line.seats,
                    server_kind: kind.as_str(),
                    registration_key: line.registration_key,
                    team_id: None,
                },
                portal.now(),
            )
            .await
            .with_context(|| format!("the demo's cart item {}", line.option))?;
    }
    let orders = tessera_portal::ordering::checkout(portal, buyer, organization, DEMO_CART, true)
        .await
        .map_err(|e| anyhow::anyhow!("the demo's orders were not placed: {e}"))?;
    Ok(orders.into_iter().map(|o| o.number).collect())
}
