//! Pools: a number of seats of one or more products, for a period, under one model.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How a pool's seats are handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LicenseModel {
    /// Concurrent seats: a running program holds a lease.
    #[default]
    Floating,
    /// Seats assigned to named people.
    Named,
    /// Prepaid consumption tokens.
    Tokens,
}

impl LicenseModel {
    pub fn as_str(self) -> &'static str {
        match self {
            LicenseModel::Floating => "floating",
            LicenseModel::Named => "named",
            LicenseModel::Tokens => "tokens",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "floating" => Some(Self::Floating),
            "named" => Some(Self::Named),
            "tokens" => Some(Self::Tokens),
            _ => None,
        }
    }
}

/// A pool as an activation key describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolSpec {
    /// Unique across every activation the server holds; a later activation with the same
    /// id replaces the pool (a renewal, more seats).
    pub id: String,
    pub products: Vec<String>,
    #[serde(default)]
    pub model: LicenseModel,
    pub seats: u32,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Longest borrow in hours; 0 means the pool cannot be borrowed from.
    #[serde(default)]
    pub borrow_max_hours: u32,
}

impl PoolSpec {
    pub fn covers(&self, product: &str) -> bool {
        self.products.iter().any(|p| p == product)
    }

    pub fn is_active_at(&self, now: DateTime<Utc>) -> bool {
        self.start <= now && now < self.end
    }
}

/// Why no pool could serve a product at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolUnavailable {
    Unknown,
    Expired,
    NotStarted,
}

/// The pools that may serve `product` at `now`, in the order they are tried: a product's
/// own pools before bundles that cover it among others, then the pool ending first, so
/// that short-lived seats are used while they last. An error says why none may.
pub fn candidate_pools<'a>(
    pools: &'a [PoolSpec],
    product: &str,
    now: DateTime<Utc>,
) -> Result<Vec<&'a PoolSpec>, PoolUnavailable> {
    let covering: Vec<&PoolSpec> = pools.iter().filter(|p| p.covers(product)).collect();
    if covering.is_empty() {
        return Err(PoolUnavailable::Unknown);
    }
    let mut active: Vec<&PoolSpec> = covering
        .iter()
        .copied()
        .filter(|p| p.is_active_at(now))
        .collect();
    if active.is_empty() {
        return Err(if covering.iter().any(|p| p.start > now) {
            PoolUnavailable::NotStarted
        } else {
            PoolUnavailable::Expired
        });
    }
    active.sort_by(|a, b| {
        a.products
            .len()
            .cmp(&b.products.len())
            .then(a.end.cmp(&b.end))
            .then(a.id.cmp(&b.id))
    });
    Ok(active)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn pool(id: &str, products: &[&str], start_days: i64, end_days: i64) -> PoolSpec {
        let now = Utc::now();
        PoolSpec {
            id: id.into(),
            products: products.iter().map(|s| s.to_string()).collect(),
            model: LicenseModel::Floating,
            seats: 1,
            start: now + Duration::days(start_days),
            end: now + Duration::days(end_days),
            borrow_max_hours: 0,
        }
    }

    #[test]
    fn own_product_pools_come_before_bundles_and_earliest_end_first() {
        let pools = vec![
            pool("bundle", &["acad", "revit"], -1, 10),
            pool("acad-late", &["acad"], -1, 30),
            pool("acad-soon", &["acad"], -1, 5),
        ];
        let order: Vec<&str> = candidate_pools(&pools, "acad", Utc::now())
            .unwrap()
            .iter()
            .map(|p| p.id.as_str())
            .collect();
        assert_eq!(order, ["acad-soon", "acad-late", "bundle"]);
    }

    #[test]
    fn unknown_expired_and_not_started_are_told_apart() {
        let pools = vec![
            pool("old", &["acad"], -10, -1),
            pool("new", &["revit"], 2, 10),
        ];
        let now = Utc::now();
        assert_eq!(
            candidate_pools(&pools, "civil", now).unwrap_err(),
            PoolUnavailable::Unknown
        );
        assert_eq!(
            candidate_pools(&pools, "acad", now).unwrap_err(),
            PoolUnavailable::Expired
        );
        assert_eq!(
            candidate_pools(&pools, "revit", now).unwrap_err(),
            PoolUnavailable::NotStarted
        );
    }
}
