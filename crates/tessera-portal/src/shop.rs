//! The shop: the Corporate subscription form (product, validity period, start of the
//! subscription period, number of users, license server) checked field by field, and
//! the cart's lines with their prices. Prices are net per user; tax is added per line.

use chrono::NaiveDate;
use tessera_store::portal::{CartItemRecord, LicenseOptionRecord, ProductRecord, ServerKind};
use tessera_token::RegistrationKey;

use crate::error::{PortalError, PortalResult};
use crate::money::Money;
use crate::state::PortalState;

/// The most users one line may have.
pub const MAX_USERS: u32 = 10_000;
/// How far ahead a subscription may start.
pub const MAX_DAYS_AHEAD: i64 = 365;

/// What the Corporate subscription form sends.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct SubscriptionForm {
    #[serde(default)]
    pub option: String,
    #[serde(default)]
    pub start: String,
    #[serde(default)]
    pub users: String,
    #[serde(default)]
    pub registration_key: String,
    /// The "Use Web License Server" checkbox.
    #[serde(default)]
    pub web: Option<String>,
}

/// A form's mistake, with the field it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    fn new(field: &'static str, message: impl Into<String>) -> Self {
        FieldError {
            field,
            message: message.into(),
        }
    }
}

/// A subscription as checked: ready for the cart.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub product: ProductRecord,
    pub option: LicenseOptionRecord,
    pub start: NaiveDate,
    pub seats: u32,
    pub server_kind: ServerKind,
    /// In its canonical form (groups of eight, upper case).
    pub registration_key: Option<String>,
}

/// Reads a registration key as typed; the message says what is wrong with it.
pub fn check_registration_key(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(
            "Enter the Registration key shown by your LAN License Server, or check Use Web License Server."
                .into(),
        );
    }
    RegistrationKey::parse(text)
        .map(|k| k.to_string())
        .map_err(|e| {
            let detail = e.to_string();
            let detail = detail
                .strip_prefix("the registration key is not valid: ")
                .unwrap_or(&detail);
            format!("This Registration key is not valid: {detail}. Copy it again from the license server (tessera server registration-key).")
        })
}

/// Checks the Corporate subscription form against the catalog and today's date.
pub async fn check_subscription(
    state: &PortalState,
    product_id: &str,
    form: &SubscriptionForm,
    today: NaiveDate,
) -> PortalResult<Result<Subscription, FieldError>> {
    let Some((product, option)) = state.store.license_option(form.option.trim()).await? else {
        return Ok(Err(FieldError::new(
            "option",
            "Choose a volume license option (validity period).",
        )));
    };
    if product.id != product_id {
        return Ok(Err(FieldError::new(
            "option",
            "That license option belongs to another product.",
        )));
    }
    // Named-user seats and token packs are served by the portal itself: no license
    // server to choose.
    let named;
    let form = if crate::teams::is_named_product(state, &product.id)
        || crate::teams::is_token_product(state, &product.id)
    {
        named = SubscriptionForm {
            registration_key: String::new(),
            web: Some("on".into()),
            ..form.clone()
        };
        &named
    } else {
        form
    };
    Ok(
        check_fields(form, today).map(|(start, seats, server_kind, registration_key)| {
            Subscription {
                product,
                option,
                start,
                seats,
                server_kind,
                registration_key,
            }
        }),
    )
}

pub type Fields = (NaiveDate, u32, ServerKind, Option<String>);

/// The form's own fields (start, number of users, license server), before the catalog
/// is consulted.
pub fn check_fields(form: &SubscriptionForm, today: NaiveDate) -> Result<Fields, FieldError> {
    let start = if form.start.trim().is_empty() {
        today
    } else {
        NaiveDate::parse_from_str(form.start.trim(), "%Y-%m-%d").map_err(|_| {
            FieldError::new(
                "start",
                "Start of the subscription period: enter a date like 2026-05-01.",
            )
        })?
    };
    if start < today {
        return Err(FieldError::new(
            "start",
            "The start of the subscription period cannot be in the past; leave today's date if you are unsure (it is moved to the payment date).",
        ));
    }
    if (start - today).num_days() > MAX_DAYS_AHEAD {
        return Err(FieldError::new(
            "start",
            format!("The subscription period can start at most {MAX_DAYS_AHEAD} days from today."),
        ));
    }
    let seats: u32 = match form.users.trim().parse::<i64>() {
        Ok(n) if (1..=i64::from(MAX_USERS)).contains(&n) => n as u32,
        Ok(n) if n < 1 => {
            return Err(FieldError::new(
                "users",
                "Number of users: at least 1 user is needed.",
            ));
        }
        _ => {
            return Err(FieldError::new(
                "users",
                format!("Number of users: enter a whole number from 1 to {MAX_USERS}."),
            ));
        }
    };
    let web = form.web.as_deref().is_some_and(|v| !v.is_empty());
    let key = form.registration_key.trim();
    let (kind, key) = match (web, key.is_empty()) {
        (true, true) => (ServerKind::Web, None),
        (true, false) => {
            return Err(FieldError::new(
                "registration_key",
                "Either enter a Registration key (LAN License Server) or check Use Web License Server, not both.",
            ));
        }
        (false, _) => (
            ServerKind::Lan,
            Some(check_registration_key(key).map_err(|m| FieldError::new("registration_key", m))?),
        ),
    };
    Ok((start, seats, kind, key))
}

/// The last day of a period that starts on `start` and lasts `months` (the license ends
/// at the start of the day after it).
pub fn period_end(start: NaiveDate, months: u32) -> NaiveDate {
    start
        .checked_add_months(chrono::Months::new(months))
        .unwrap_or(NaiveDate::MAX)
}

/// Net, tax and gross of `seats` users at `unit` each.
pub fn line_amounts(
    unit: &Money,
    seats: u32,
    tax_rate_bp: i64,
) -> PortalResult<(Money, Money, Money)> {
    let overflow = || PortalError::invalid("That order is too large.");
    let net = unit.times(i64::from(seats)).ok_or_else(overflow)?;
    let tax = net.percent_bp(tax_rate_bp).ok_or_else(overflow)?;
    let gross = net.checked_add(&tax).ok_or_else(overflow)?;
    Ok((net, tax, gross))
}

/// How the license server of an order or cart line reads.
pub fn server_text(kind: ServerKind, registration_key: Option<&str>) -> String {
    match (kind, registration_key) {
        (ServerKind::Lan, Some(key)) => format!("LAN License Server (Registration key {key})"),
        (ServerKind::Lan, None) => "LAN License Server".into(),
        (ServerKind::Web, _) => "Web License Server".into(),
    }
}

/// A cart item with its product, option and prices.
#[derive(Debug, Clone)]
pub struct CartLine {
    pub item: CartItemRecord,
    pub product: ProductRecord,
    pub option: LicenseOptionRecord,
    pub start: NaiveDate,
    pub server_kind: ServerKind,
    pub net: Money,
    pub tax: Money,
    pub gross: Money,
}

/// The cart of `owner` with prices; items whose option left the catalog are dropped.
pub async fn cart_lines(state: &PortalState, owner: &str) -> PortalResult<Vec<CartLine>> {
    let mut lines = Vec::new();
    for item in state.store.cart_items(owner).await? {
        let Some((product, option)) = state.store.license_option(&item.option_id).await? else {
            state.store.remove_cart_item(owner, &item.id).await?;
            continue;
        };
        let unit = Money::new(option.price_minor, option.currency.clone());
        let (net, tax, gross) = line_amounts(&unit, item.seats, state.config.tax_rate_bp)?;
        let start = NaiveDate::parse_from_str(&item.start_date, "%Y-%m-%d")
            .map_err(|e| PortalError::internal(format!("cart start date: {e}")))?;
        let server_kind = ServerKind::parse(&item.server_kind).unwrap_or(ServerKind::Lan);
        lines.push(CartLine {
            item,
            product,
            option,
            start,
            server_kind,
            net,
            tax,
            gross,
        });
    }
    Ok(lines)
}

/// The sum of the lines' gross amounts (zero in the portal's currency when empty).
pub fn cart_total(state: &PortalState, lines: &[CartLine]) -> Money {
    lines
        .iter()
        .try_fold(Money::zero(state.config.currency.clone()), |acc, l| {
            acc.checked_add(&l.gross)
        })
        .unwrap_or_else(|| Money::zero(state.config.currency.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(start: &str, users: &str, key: &str, web: bool) -> SubscriptionForm {
        SubscriptionForm {
            option: "x".into(),
            start: start.into(),
            users: users.into(),
            registration_key: key.into(),
            web: web.then(|| "on".into()),
        }
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn subscription_fields_are_checked_with_clear_messages() {
        let today = day("2026-03-10");
        let ok = check_fields(&form("", "3", "", true), today).unwrap();
        assert_eq!(ok, (today, 3, ServerKind::Web, None));
        let past = check_fields(&form("2026-03-09", "3", "", true), today).unwrap_err();
        assert_eq!(past.field, "start");
        let zero = check_fields(&form("", "0", "", true), today).unwrap_err();
        assert_eq!(zero.field, "users");
        assert!(zero.message.contains("at least 1"));
        assert_eq!(
            check_fields(&form("", "2.5", "", true), today)
                .unwrap_err()
                .field,
            "users"
        );
        let bad = check_fields(&form("", "2", "TSR1-AAAA", false), today).unwrap_err();
        assert_eq!(bad.field, "registration_key");
        assert!(bad.message.contains("not valid"), "{}", bad.message);
        let missing = check_fields(&form("", "2", "", false), today).unwrap_err();
        assert!(missing.message.contains("Use Web License Server"));
        let key =
            RegistrationKey::derive(tessera_token::SigningKey::generate().verifying_key(), "m")
                .to_string();
        let lan =
            check_fields(&form("2026-04-01", "2", &key.to_lowercase(), false), today).unwrap();
        assert_eq!(lan.2, ServerKind::Lan);
        assert_eq!(lan.3.as_deref(), Some(key.as_str()));
        assert!(check_fields(&form("", "2", &key, true), today).is_err());
    }

    #[test]
    fn periods_end_after_whole_months() {
        assert_eq!(period_end(day("2026-01-31"), 1), day("2026-02-28"));
        assert_eq!(period_end(day("2026-03-10"), 12), day("2027-03-10"));
    }
}
