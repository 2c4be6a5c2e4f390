//! The documents of an order, as real PDFs: the invoice (made when the order is placed),
//! the license agreement (with "Contract and Acts") and the acceptance act (once paid).
//! The data types are here; each document's layout is in its own module.
//!
//! ```no_run
//! # fn doc() -> tessera_portal::documents::InvoiceDoc { unimplemented!() }
//! let pdf: Vec<u8> = tessera_portal::documents::invoice_pdf(&doc()).unwrap();
//! ```

mod act;
mod agreement;
mod invoice;
mod parts;
mod pdf;

pub use act::acceptance_act_pdf;
pub use agreement::license_agreement_pdf;
pub use invoice::{InvoiceTotals, LineAmounts, RateAmounts, invoice_pdf, invoice_totals};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::money::Money;

#[derive(Debug, Error)]
pub enum DocumentError {
    #[error("the document could not be made: {0}")]
    Render(String),
}

/// The vendor as it appears on every document (from the portal's configuration).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VendorDetails {
    pub name: String,
    pub address: Vec<String>,
    pub tax_id: String,
    pub email: String,
    pub bank_name: String,
    pub iban: String,
    pub swift: String,
}

/// The customer's company, as entered with "Add company info".
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CompanyDetails {
    pub name: String,
    pub address: Vec<String>,
    pub tax_id: String,
    pub email: String,
}

/// One line of an invoice.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InvoiceLine {
    pub description: String,
    pub quantity: i64,
    /// Net price of one unit.
    pub unit_price: Money,
    /// Tax rate in basis points (2300 = 23 %).
    pub tax_rate_bp: i64,
}

/// Everything an invoice shows; totals are computed from the lines when rendered.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InvoiceDoc {
    pub invoice_number: String,
    pub order_number: String,
    pub issue_date: NaiveDate,
    pub due_date: NaiveDate,
    pub vendor: VendorDetails,
    pub customer: CompanyDetails,
    pub lines: Vec<InvoiceLine>,
    /// What the customer writes as the transfer's title.
    pub payment_reference: String,
}

/// The licensed thing: products, seats and period, and which license server serves it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LicenseTerms {
    pub products: Vec<String>,
    pub seats: u32,
    pub start: NaiveDate,
    pub end: NaiveDate,
    /// "LAN License Server (registration key TSR1-…)" or "Web License Server".
    pub license_server: String,
}

/// The license agreement generated from an order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgreementDoc {
    pub agreement_number: String,
    pub order_number: String,
    pub date: NaiveDate,
    pub vendor: VendorDetails,
    pub customer: CompanyDetails,
    pub terms: LicenseTerms,
    pub total: Money,
}

/// The acceptance act of a paid order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AcceptanceActDoc {
    pub act_number: String,
    pub order_number: String,
    pub agreement_number: String,
    pub date: NaiveDate,
    pub vendor: VendorDetails,
    pub customer: CompanyDetails,
    pub terms: LicenseTerms,
}
