//! Orders from Checkout to Paid. Checkout places one order per cart line, Pending, with
//! gapless order and invoice numbers (one transaction), then makes the invoice (and the
//! license agreement with "Contract and Acts"), mails them to the customer and tells the
//! vendor's staff. When staff mark an order Paid, a LAN server's activation key is
//! signed for its registration key and mailed (it stays in the account's Orders), or
//! the organization's pools go onto the web license server; with "Contract and Acts"
//! the acceptance act follows.
//!
//! Documents are kept in the database; one missing (a crash right after the order was
//! stored) is made again from the order when it is asked for.

use chrono::{NaiveDate, TimeZone, Utc};
use tessera_core::{LicenseModel, PoolSpec};
use tessera_store::portal::{
    Announcement, CompanyInfo, DocumentKind, DocumentRecord, NewOrder, OrderRecord, OrderStatus,
    OrganizationRecord, PaidOrder, RenewalSeats, ServerKind, UserRecord,
};
use tessera_token::{RegistrationKey, issue_activation};

use crate::documents::{
    AcceptanceActDoc, AgreementDoc, CompanyDetails, InvoiceDoc, InvoiceLine, LicenseTerms,
    acceptance_act_pdf, invoice_pdf, license_agreement_pdf,
};
use crate::error::{PortalError, PortalResult};
use crate::mail::{Attachment, OutgoingMail};
use crate::money::Money;
use crate::shop::{cart_lines, period_end, server_text};
use crate::state::PortalState;

fn day(text: &str) -> PortalResult<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|e| PortalError::internal(format!("stored date `{text}`: {e}")))
}

fn money(order: &OrderRecord, minor: i64) -> Money {
    Money::new(minor, order.currency.clone())
}

/// What is missing from the company's details before Checkout.
pub fn company_problem(company: &CompanyInfo) -> Option<&'static str> {
    if company.name.trim().is_empty() {
        Some("Add company info: the company's name is missing.")
    } else if company.address.iter().all(|l| l.trim().is_empty()) {
        Some("Add company info: the company's address is missing.")
    } else if company.billing_email.trim().is_empty() {
        Some("Add company info: the e-mail for invoices is missing.")
    } else {
        None
    }
}

/// Places the cart of `user` as orders: the Checkout button.
pub async fn checkout(
    state: &PortalState,
    user: &UserRecord,
    organization: &OrganizationRecord,
    cart_owner: &str,
    contract_and_acts: bool,
) -> PortalResult<Vec<OrderRecord>> {
    let company = organization.company();
    if !organization.company_saved {
        return Err(PortalError::invalid(
            "Add company info first: the invoice needs your company's details.",
        ));
    }
    if let Some(problem) = company_problem(&company) {
        return Err(PortalError::invalid(problem));
    }
    let lines = cart_lines(state, cart_owner).await?;
    if lines.is_empty() {
        return Err(PortalError::invalid(
            "Your cart is empty: choose a license under Buy first.",
        ));
    }
    let today = state.today();
    let mut orders = Vec::with_capacity(lines.len());
    for line in &lines {
        // A cart left overnight may start in the past: it starts today instead.
        let start = line.start.max(today);
        orders.push(NewOrder {
            cart_item_id: Some(line.item.id.clone()),
            user_id: user.id.clone(),
            organization_id: organization.id.clone(),
            customer_email: user.email.clone(),
            company: company.clone(),
            option_id: line.option.id.clone(),
            product_name: line.product.name.clone(),
            option_name: line.option.name.clone(),
            licensed: line.product.licensed.clone(),
            months: line.option.months,
            borrow_max_hours: line.option.borrow_max_hours,
            seats: line.item.seats,
            currency: line.option.currency.clone(),
            unit_price_minor: line.option.price_minor,
            tax_rate_bp: state.config.tax_rate_bp,
            net_minor: line.net.minor,
            tax_minor: line.tax.minor,
            gross_minor: line.gross.minor,
            contract_and_acts,
            server_kind: line.server_kind,
            registration_key: line.item.registration_key.clone(),
            start_date: start.format("%Y-%m-%d").to_string(),
            end_date: period_end(start, line.option.months)
                .format("%Y-%m-%d")
                .to_string(),
        });
    }
    let placed = state
        .store
        .place_orders(&orders, cart_owner, state.now())
        .await?
        .ok_or_else(|| {
            PortalError::conflict(
                "Your cart changed while you were checking out (was Checkout pressed twice?). See Orders before you try again.",
            )
        })?;
    let mut announced = Vec::with_capacity(placed.len());
    for order in &placed {
        match announce_order(state, order).await {
            Ok(()) => announced.push(order.clone()),
            // The order stands; the recovery task announces it later
            // (`announce_pending`), and its documents are made again when asked for.
            Err(e) => {
                tracing::error!(order = %order.number, error = %e, "the new order's documents or e-mail failed; will retry")
            }
        }
    }
    match notify_staff(state, &announced).await {
        Ok(()) => {
            for order in &announced {
                state
                    .store
                    .mark_order_announced(&order.id, Announcement::Placed, state.now())
                    .await?;
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "the staff notification of new orders failed; will retry")
        }
    }
    Ok(placed)
}

/// Places one order outside the cart (a reseller's order, seats added to a
/// subscription), Pending with its invoice e-mailed and staff told, as Checkout does.
pub async fn place_single(
    state: &PortalState,
    order: &NewOrder,
    channel: &tessera_store::portal::OrderChannel,
) -> PortalResult<OrderRecord> {
    let placed = state
        .store
        .place_channel_order(order, channel, state.now())
        .await?;
    announce(state, &placed, Announcement::Placed).await?;
    Ok(placed)
}

/// Whether the customer may renew a Paid order now: early renewal is open from 90 days
/// before the end of its period until 45 days after it, once. An order bought through a
/// reseller renews only through the reseller, and added seats renew with their
/// subscription's order.
pub fn renewal_open(order: &OrderRecord, today: NaiveDate) -> bool {
    let Ok(end) = NaiveDate::parse_from_str(&order.end_date, "%Y-%m-%d") else {
        return false;
    };
    let days_left = (end - today).num_days();
    order.reseller_email.is_none()
        && order.adds_to.is_none()
        && order.status == OrderStatus::Paid
        && order.renewed_by.is_none()
        && (-45..=90).contains(&days_left)
}

/// Places the renewal of a Paid order for the next period (from the end of this one, at
/// the same seats and prices, keeping its pool) and e-mails its invoice as a new order's
/// is; staff then mark it Paid as any order, which issues the new term's licenses.
pub async fn renew(state: &PortalState, order: &OrderRecord) -> PortalResult<OrderRecord> {
    renew_with_seats(state, order, None).await
}

/// The message for a subscription bought through a reseller.
pub fn reseller_text(reseller: &str) -> String {
    format!(
        "This subscription was bought through the reseller {reseller}: it cannot renew or change payment online. To renew it, contact your reseller."
    )
}

/// [`renew`] for `seats` seats (a named-user subscription's renewal may keep fewer: a
/// partial renewal). Without a number, a named-user subscription renews with the seats
/// it has now (with any added), any other order with its own.
pub async fn renew_with_seats(
    state: &PortalState,
    order: &OrderRecord,
    seats: Option<u32>,
) -> PortalResult<OrderRecord> {
    if let Some(reseller) = &order.reseller_email {
        return Err(PortalError::conflict(reseller_text(reseller)));
    }
    if order.adds_to.is_some() {
        return Err(PortalError::conflict(format!(
            "Order {} added seats to a subscription: they renew with the subscription's order.",
            order.number
        )));
    }
    if order.status != OrderStatus::Paid {
        return Err(PortalError::conflict(format!(
            "Order {} is {}: only a Paid subscription can be renewed.",
            order.number,
            order.status.as_str()
        )));
    }
    if let Some(by) = &order.renewed_by {
        return Err(PortalError::conflict(format!(
            "Order {} was renewed already, by order {by}.",
            order.number
        )));
    }
    let start = day(&order.end_date)?;
    let end = period_end(start, order.months);
    let current = match state.store.named_subscription_of_order(&order.id).await? {
        Some(sub) => sub.seats,
        None => order.seats,
    };
    let seats = match seats {
        Some(0) => {
            return Err(PortalError::invalid(
                "Renew at least 1 seat (or turn auto-renew off to let the subscription end).",
            ));
        }
        Some(n) if n > current => {
            return Err(PortalError::invalid(format!(
                "A renewal keeps at most the {current} seat(s) the subscription has; buy more seats separately."
            )));
        }
        Some(n) => n,
        None => current,
    };
    let unit = Money::new(order.unit_price_minor, order.currency.clone());
    let (net, tax, gross) = crate::shop::line_amounts(&unit, seats, order.tax_rate_bp)?;
    let placed = state
        .store
        .place_renewal_of_seats(
            order,
            &RenewalSeats {
                seats,
                net_minor: net.minor,
                tax_minor: tax.minor,
                gross_minor: gross.minor,
            },
            &start.format("%Y-%m-%d").to_string(),
            &end.format("%Y-%m-%d").to_string(),
            state.now(),
        )
        .await?
        .ok_or_else(|| {
            PortalError::conflict(format!("Order {} was renewed meanwhile.", order.number))
        })?;
    // As for a new order: the invoice and the staff's note now, or by the recovery task.
    announce(state, &placed, Announcement::Placed).await?;
    Ok(placed)
}

/// Sends an order's e-mails of `which` (a new order: its invoice to the customer and the
/// note to staff; a Paid one: its key or web license server to the customer) and records
/// that they went. A failure is logged and left to the recovery task
/// (`announce_pending`). Answers whether they went.
async fn announce(
    state: &PortalState,
    order: &OrderRecord,
    which: Announcement,
) -> PortalResult<bool> {
    let sent = match which {
        Announcement::Placed => match announce_order(state, order).await {
            Ok(()) => notify_staff(state, std::slice::from_ref(order)).await,
            Err(e) => Err(e),
        },
        Announcement::Paid => match state.store.organization(&order.organization_id).await? {
            Some(organization) => announce_paid(state, order, &organization).await,
            None => Err(PortalError::internal("the order's organization is missing")),
        },
    };
    match sent {
        Ok(()) => {
            state
                .store
                .mark_order_announced(&order.id, which, state.now())
                .await?;
            Ok(true)
        }
        Err(e) => {
            tracing::error!(order = %order.number, ?which, error = %e, "the order's e-mails failed; will retry");
            Ok(false)
        }
    }
}

/// Announces the orders whose e-mails were never stored because the portal stopped
/// (a crash, a kill) between an order's commit and its e-mails, or the e-mails failed:
/// orders placed or marked Paid more than `grace_ms` ago and still unannounced. Returns
/// how many were announced. At least once: a crash right after the e-mails and before
/// the mark sends them again.
pub async fn announce_pending(state: &PortalState, grace_ms: i64) -> PortalResult<usize> {
    let pending = state
        .store
        .unannounced_orders(state.now() - grace_ms)
        .await?;
    let mut done = 0;
    for (order, which) in pending {
        if announce(state, &order, which).await? {
            tracing::info!(order = %order.number, ?which, "announced an order a stop had left unannounced");
            done += 1;
        }
    }
    Ok(done)
}

/// The invoice (and agreement) of a new order, mailed to the customer.
async fn announce_order(state: &PortalState, order: &OrderRecord) -> PortalResult<()> {
    let mut attachments = vec![attachment(
        document(state, order, DocumentKind::Invoice).await?,
    )];
    if order.contract_and_acts {
        attachments.push(attachment(
            document(state, order, DocumentKind::Agreement).await?,
        ));
    }
    let vendor = &state.config.vendor;
    let text = format!(
        "Thank you for your order.\n\n\
         Order: {number} (Pending)\n\
         {product}, {option}: {seats} user(s), {start} to {end}\n\
         License server: {server}\n\
         Total: {gross} (net {net} + tax {tax})\n\n\
         Payment: Bank transfer within {days} days to\n  {vname}\n  {bank}\n  IBAN {iban}\n  SWIFT {swift}\n\
         with the title {number}. The invoice {invoice} is attached{agreement}.\n\n\
         After the payment arrives the order becomes Paid; the start of the subscription \
         period may then be moved to the payment date. {after}\n\n\
         Your orders: {orders_url}\n",
        number = order.number,
        product = order.product_name,
        option = order.option_name,
        seats = order.seats,
        start = order.start_date,
        end = order.end_date,
        server = server_text(order.server_kind, order.registration_key.as_deref()),
        gross = money(order, order.gross_minor),
        net = money(order, order.net_minor),
        tax = money(order, order.tax_minor),
        days = state.config.payment_days,
        vname = vendor.name,
        bank = vendor.bank_name,
        iban = vendor.iban,
        swift = vendor.swift,
        invoice = order.invoice_number,
        agreement = if order.contract_and_acts {
            ", with the license agreement"
        } else {
            ""
        },
        after = match order.server_kind {
            ServerKind::Lan =>
                "We then e-mail the activation key; it is also always in your account's Orders section.",
            ServerKind::Web => "Your account then shows Use Web License Server.",
        },
        orders_url = state.url("/account/orders"),
    );
    state
        .mailer
        .send(OutgoingMail {
            to: recipients(order),
            subject: format!("Order {} — invoice {}", order.number, order.invoice_number),
            text,
            attachments,
        })
        .await?;
    Ok(())
}

/// The account's e-mail, and the company's invoice e-mail when it differs.
pub(crate) fn recipients(order: &OrderRecord) -> Vec<String> {
    let mut to = vec![order.customer_email.clone()];
    let billing = order.company.billing_email.trim();
    if !billing.is_empty() && !billing.eq_ignore_ascii_case(&order.customer_email) {
        to.push(billing.to_owned());
    }
    to
}

async fn notify_staff(state: &PortalState, orders: &[OrderRecord]) -> PortalResult<()> {
    let Some(first) = orders.first() else {
        return Ok(());
    };
    let mut text = format!(
        "New order(s) from {} <{}>, Pending until the bank transfer arrives:\n\n",
        first.company.name, first.customer_email
    );
    for o in orders {
        text.push_str(&format!(
            "{number}  {product}, {option}, {seats} user(s) from {start}, {server}\n  total {gross}, invoice {invoice}{contract}\n  {url}\n\n",
            number = o.number,
            product = o.product_name,
            option = o.option_name,
            seats = o.seats,
            start = o.start_date,
            server = server_text(o.server_kind, o.registration_key.as_deref()),
            gross = money(o, o.gross_minor),
            invoice = o.invoice_number,
            contract = if o.contract_and_acts { ", Contract and Acts" } else { "" },
            url = state.url(&format!("/staff/orders/{}", o.number)),
        ));
    }
    let numbers: Vec<&str> = orders.iter().map(|o| o.number.as_str()).collect();
    state
        .mailer
        .send(OutgoingMail {
            to: vec![state.config.staff_notification_email.clone()],
            subject: format!(
                "New order {} from {}",
                numbers.join(", "),
                first.company.name
            ),
            text,
            attachments: Vec::new(),
        })
        .await?;
    Ok(())
}

fn attachment(doc: DocumentRecord) -> Attachment {
    Attachment {
        filename: doc.filename,
        content_type: doc.content_type,
        data: doc.content,
    }
}

fn company_details(order: &OrderRecord) -> CompanyDetails {
    CompanyDetails {
        name: order.company.name.clone(),
        address: order.company.address.clone(),
        tax_id: order.company.tax_id.clone(),
        email: order.company.billing_email.clone(),
    }
}

fn terms(order: &OrderRecord) -> PortalResult<LicenseTerms> {
    Ok(LicenseTerms {
        products: vec![format!(
            "{} ({})",
            order.product_name,
            order.licensed.join(", ")
        )],
        seats: order.seats,
        start: day(&order.start_date)?,
        end: day(&order.end_date)?,
        license_server: server_text(order.server_kind, order.registration_key.as_deref()),
    })
}

fn numbered(prefix: &str, order: &OrderRecord) -> String {
    format!(
        "{prefix}-{}",
        order.number.strip_prefix("ORD-").unwrap_or(&order.number)
    )
}

fn created_day(order: &OrderRecord) -> NaiveDate {
    tessera_core::from_millis(order.created_at).date_naive()
}

/// What rendering a document needs besides the order.
struct RenderContext {
    vendor: crate::documents::VendorDetails,
    payment_days: i64,
    today: NaiveDate,
}

/// Renders one of an order's documents (CPU work: call it off the async threads).
fn render(
    cx: RenderContext,
    order: &OrderRecord,
    kind: DocumentKind,
) -> PortalResult<(String, Vec<u8>)> {
    let vendor = cx.vendor;
    let total = money(order, order.gross_minor);
    Ok(match kind {
        DocumentKind::Invoice => {
            let issue = created_day(order);
            let doc = InvoiceDoc {
                invoice_number: order.invoice_number.clone(),
                order_number: order.number.clone(),
                issue_date: issue,
                due_date: issue + chrono::Duration::days(cx.payment_days),
                vendor,
                customer: company_details(order),
                lines: vec![InvoiceLine {
                    description: format!(
                        "{} — Corporate subscription, {} ({} to {}), {}",
                        order.product_name,
                        order.option_name,
                        order.start_date,
                        order.end_date,
                        server_text(order.server_kind, None)
                    ),
                    quantity: i64::from(order.seats),
                    unit_price: money(order, order.unit_price_minor),
                    tax_rate_bp: order.tax_rate_bp,
                }],
                payment_reference: order.number.clone(),
            };
            (format!("{}.pdf", order.invoice_number), invoice_pdf(&doc)?)
        }
        DocumentKind::Agreement => {
            let doc = AgreementDoc {
                agreement_number: numbered("AGR", order),
                order_number: order.number.clone(),
                date: created_day(order),
                vendor,
                customer: company_details(order),
                terms: terms(order)?,
                total,
            };
            (
                format!("{}.pdf", doc.agreement_number),
                license_agreement_pdf(&doc)?,
            )
        }
        DocumentKind::Act => {
            let doc = AcceptanceActDoc {
                act_number: numbered("ACT", order),
                order_number: order.number.clone(),
                agreement_number: numbered("AGR", order),
                date: order
                    .paid_at
                    .map(|p| tessera_core::from_millis(p).date_naive())
                    .unwrap_or(cx.today),
                vendor,
                customer: company_details(order),
                terms: terms(order)?,
            };
            (format!("{}.pdf", doc.act_number), acceptance_act_pdf(&doc)?)
        }
    })
}

/// Whether an order has (or should have) a document of this kind.
pub fn has_document(order: &OrderRecord, kind: DocumentKind) -> bool {
    match kind {
        DocumentKind::Invoice => true,
        DocumentKind::Agreement => order.contract_and_acts,
        DocumentKind::Act => order.contract_and_acts && order.status == OrderStatus::Paid,
    }
}

/// One of an order's documents: the stored one, or made (and stored) now.
pub async fn document(
    state: &PortalState,
    order: &OrderRecord,
    kind: DocumentKind,
) -> PortalResult<DocumentRecord> {
    if !has_document(order, kind) {
        return Err(PortalError::NotFound);
    }
    if let Some(doc) = state.store.document(&order.id, kind).await? {
        return Ok(doc);
    }
    let cx = RenderContext {
        vendor: state.config.vendor.clone(),
        payment_days: state.config.payment_days,
        today: state.today(),
    };
    let owned = order.clone();
    let (filename, content) = tokio::task::spawn_blocking(move || render(cx, &owned, kind))
        .await
        .map_err(PortalError::internal)??;
    let doc = DocumentRecord {
        kind,
        filename,
        content_type: "application/pdf".into(),
        content,
        created_at: state.now(),
    };
    state.store.put_document(&order.id, &doc).await?;
    Ok(doc)
}

/// The pool an order licenses, for the period from `start` to `end`.
fn pool(order: &OrderRecord, start: NaiveDate, end: NaiveDate) -> PoolSpec {
    let midnight =
        |d: NaiveDate| Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default());
    PoolSpec {
        id: order.pool_id.clone(),
        products: order.licensed.clone(),
        model: LicenseModel::Floating,
        seats: order.seats,
        start: midnight(start),
        end: midnight(end),
        borrow_max_hours: order.borrow_max_hours,
    }
}

/// Marks a Pending order Paid, its subscription period starting on `start`: the
/// licenses are issued and the customer is told.
pub async fn mark_paid(
    state: &PortalState,
    number: &str,
    start: &str,
) -> PortalResult<OrderRecord> {
    let order = state
        .store
        .order_by_number(number)
        .await?
        .ok_or(PortalError::NotFound)?;
    if order.status != OrderStatus::Pending {
        return Err(PortalError::conflict(format!(
            "Order {} is already {}.",
            order.number,
            order.status.as_str()
        )));
    }
    let start = NaiveDate::parse_from_str(start.trim(), "%Y-%m-%d").map_err(|_| {
        PortalError::invalid("Start of the subscription period: enter a date like 2026-05-01.")
    })?;
    // Added seats end with their subscription.
    let end = if order.adds_to.is_some() {
        day(&order.end_date)?
    } else {
        period_end(start, order.months)
    };
    if end <= state.today() {
        return Err(PortalError::invalid(
            "With that start the subscription period would already be over.",
        ));
    }
    let organization = state
        .store
        .organization(&order.organization_id)
        .await?
        .ok_or_else(|| PortalError::internal("the order's organization is missing"))?;
    let pools = vec![pool(&order, start, end)];
    let now = chrono::Utc::now();
    // A named-user product's seats go to a subscription in the buyer's team (made before
    // the order turns Paid; made once per order, so a retry makes nothing twice).
    let named = crate::teams::is_named_order(state, &order);
    let tokens = crate::teams::is_token_order(state, &order);
    let activation_key = match order.server_kind {
        // Token packs go to the organization's balance (once per order: a retry finds
        // the pack it made).
        _ if tokens => {
            let packs = state.store.token_packs(&organization.id).await?;
            if !packs.iter().any(|p| p.note == order.number) {
                let last_day = (end - chrono::Duration::days(1))
                    .format("%Y-%m-%d")
                    .to_string();
                state
                    .store
                    .add_token_pack(
                        &tessera_store::portal::NewTokenPack {
                            organization_id: &organization.id,
                            tokens: i64::from(order.seats) * crate::config::TOKEN_PACK,
                            expires_on: &last_day,
                            granted_by: &order.customer_email,
                            note: &order.number,
                        },
                        state.now(),
                    )
                    .await?;
                // A pack does not renew by itself unless the customer turns it on.
                state.store.set_auto_renew(&order.id, false).await?;
            }
            None
        }
        _ if named => {
            crate::teams::subscribe_named(
                state,
                &order,
                &organization,
                &start.format("%Y-%m-%d").to_string(),
                &end.format("%Y-%m-%d").to_string(),
            )
            .await?;
            None
        }
        ServerKind::Lan => {
            let text = order.registration_key.as_deref().unwrap_or_default();
            let registration = RegistrationKey::parse(text).map_err(|e| {
                PortalError::invalid(format!("The order's registration key is not valid: {e}"))
            })?;
            Some(
                issue_activation(&state.vendor, &registration, &organization.name, pools, now)
                    .map_err(PortalError::internal)?,
            )
        }
        ServerKind::Web => {
            // Granted before the order turns Paid; granting again (a retry) replaces the
            // same pool, so nothing is granted twice.
            tessera_server::grant_web_pools(
                &state.store,
                &organization.slug,
                &organization.name,
                &order.number,
                pools,
                state.now(),
            )
            .await?;
            state.web.pools_changed();
            None
        }
    };
    let start_text = start.format("%Y-%m-%d").to_string();
    let end_text = end.format("%Y-%m-%d").to_string();
    let updated = state
        .store
        .mark_order_paid(
            &order.id,
            &PaidOrder {
                start_date: &start_text,
                end_date: &end_text,
                activation_key: activation_key.as_deref(),
            },
            state.now(),
        )
        .await?;
    if !updated {
        return Err(PortalError::conflict(format!(
            "Order {} was changed meanwhile; reload it.",
            order.number
        )));
    }
    let paid = state
        .store
        .order_by_number(&order.number)
        .await?
        .ok_or(PortalError::NotFound)?;
    announce(state, &paid, Announcement::Paid).await?;
    Ok(paid)
}

/// The activation key file's name.
pub fn activation_filename(order: &OrderRecord) -> String {
    format!("activation-{}.key", order.number)
}

async fn announce_paid(
    state: &PortalState,
    order: &OrderRecord,
    organization: &OrganizationRecord,
) -> PortalResult<()> {
    let mut attachments = Vec::new();
    let named = crate::teams::is_named_order(state, order);
    let tokens = crate::teams::is_token_order(state, order);
    let how = match (&order.server_kind, &order.activation_key) {
        _ if named => crate::teams::paid_named_text(state, order, organization).await?,
        _ if tokens => format!(
            "{n} tokens are in your organization's balance, to be used until {last}. People \
             signed in to a licensed program use them; your usage and balance:\n{url}\n",
            n = i64::from(order.seats) * crate::config::TOKEN_PACK,
            last = day(&order.end_date)
                .map(|d| (d - chrono::Duration::days(1))
                    .format("%Y-%m-%d")
                    .to_string())
                .unwrap_or_else(|_| order.end_date.clone()),
            url = state.url("/account/reports/tokens"),
        ),
        (ServerKind::Lan, Some(key)) => {
            attachments.push(Attachment {
                filename: activation_filename(order),
                content_type: "text/plain".into(),
                data: format!("{key}\n").into_bytes(),
            });
            format!(
                "Your activation key for the LAN License Server with the Registration key\n{reg}:\n\n{key}\n\n\
                 Import it on the license server's computer (it is also attached):\n\
                 tessera server activate {file}\n\n\
                 The activation key is always available in your account, in the Orders section:\n{url}\n",
                reg = order.registration_key.as_deref().unwrap_or_default(),
                file = activation_filename(order),
                url = state.url("/account/orders"),
            )
        }
        _ => format!(
            "Your licenses are on the Web License Server. In your account, Use Web License Server \
             opens its administration:\n{panel}\n\n\
             Licensed programs reach it at {server} (TESSERA_SERVER).\n",
            panel = state.url(&format!("/w/{}/", organization.slug)),
            server = state.url(&format!("/w/{}", organization.slug)),
        ),
    };
    if order.contract_and_acts {
        attachments.push(attachment(document(state, order, DocumentKind::Act).await?));
    }
    // A reseller's order: the team's owner is told their seats arrived.
    if named && order.reseller_email.is_some() {
        crate::teams::notify_owner_of_reseller_seats(state, order).await?;
    }
    state
        .mailer
        .send(OutgoingMail {
            to: recipients(order),
            subject: match order.server_kind {
                _ if named => format!("Order {} is Paid — assign your seats", order.number),
                _ if tokens => format!("Order {} is Paid — your tokens", order.number),
                ServerKind::Lan => format!("Order {} is Paid — your activation key", order.number),
                ServerKind::Web => {
                    format!("Order {} is Paid — Use Web License Server", order.number)
                }
            },
            text: format!(
                "Thank you: your payment for order {number} has arrived and the order is Paid.\n\n\
                 {product}, {option}: {seats} user(s)\n\
                 Subscription period: {start} to {end}\n\n{how}{act}",
                number = order.number,
                product = order.product_name,
                option = order.option_name,
                seats = order.seats,
                start = order.start_date,
                end = order.end_date,
                act = if order.contract_and_acts {
                    "\nThe acceptance act is attached.\n"
                } else {
                    ""
                },
            ),
            attachments,
        })
        .await?;
    Ok(())
}

/// Cancels a Pending order.
pub async fn cancel(state: &PortalState, number: &str) -> PortalResult<OrderRecord> {
    let order = state
        .store
        .order_by_number(number)
        .await?
        .ok_or(PortalError::NotFound)?;
    if !state.store.cancel_order(&order.id, state.now()).await? {
        return Err(PortalError::conflict(format!(
            "Order {} is {}; only a Pending order can be cancelled.",
            order.number,
            order.status.as_str()
        )));
    }
    state
        .store
        .order_by_number(number)
        .await?
        .ok_or(PortalError::NotFound)
}
