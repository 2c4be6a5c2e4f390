//! Money as integer minor units with a currency: never a float.

use serde::{Deserialize, Serialize};

/// An amount in minor units (cents, grosze) of a currency (ISO 4217 code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub minor: i64,
    pub currency: String,
}

impl Money {
    pub fn new(minor: i64, currency: impl Into<String>) -> Self {
        Money {
            minor,
            currency: currency.into(),
        }
    }

    pub fn zero(currency: impl Into<String>) -> Self {
        Self::new(0, currency)
    }

    /// The sum of two amounts of the same currency; `None` for different currencies or overflow.
    pub fn checked_add(&self, other: &Money) -> Option<Money> {
        (self.currency == other.currency)
            .then(|| self.minor.checked_add(other.minor))
            .flatten()
            .map(|minor| Money::new(minor, self.currency.clone()))
    }

    /// This amount times a whole quantity; `None` on overflow.
    pub fn times(&self, quantity: i64) -> Option<Money> {
        self.minor
            .checked_mul(quantity)
            .map(|minor| Money::new(minor, self.currency.clone()))
    }

    /// A rate in basis points (2300 = 23 %) of this amount, rounded half away from zero.
    pub fn percent_bp(&self, basis_points: i64) -> Option<Money> {
        let product = i128::from(self.minor) * i128::from(basis_points);
        let rounded = if product >= 0 {
            (product + 5_000) / 10_000
        } else {
            (product - 5_000) / 10_000
        };
        i64::try_from(rounded)
            .ok()
            .map(|minor| Money::new(minor, self.currency.clone()))
    }
}

impl std::fmt::Display for Money {
    /// `1 234.50 EUR`: a space between thousands, two decimals, the code after.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sign = if self.minor < 0 { "-" } else { "" };
        let abs = self.minor.unsigned_abs();
        let whole = (abs / 100).to_string();
        let mut grouped = String::new();
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i).is_multiple_of(3) {
                grouped.push(' ');
            }
            grouped.push(c);
        }
        write!(f, "{sign}{grouped}.{:02} {}", abs % 100, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_adds_multiplies_taxes_and_prints_without_floats() {
        let price = Money::new(123_450, "EUR");
        assert_eq!(price.to_string(), "1 234.50 EUR");
        assert_eq!(price.times(3).unwrap().minor, 370_350);
        assert_eq!(price.percent_bp(2300).unwrap().minor, 28_394); // 283.935 → 283.94
        assert_eq!(Money::new(5, "EUR").percent_bp(1000).unwrap().minor, 1); // 0.5 → 1
        assert!(price.checked_add(&Money::new(1, "PLN")).is_none());
        assert_eq!(
            Money::new(-100_000_000, "PLN").to_string(),
            "-1 000 000.00 PLN"
        );
        assert_eq!(Money::new(7, "EUR").to_string(), "0.07 EUR");
    }
}
