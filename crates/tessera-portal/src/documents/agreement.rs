//! The license agreement made from an order ("Contract and Acts"): the parties, what is
//! licensed (products, seats, period, license server), the price, and plain clauses.

use super::parts::KEEP_WITH_SIGNATURES;
use super::parts::{self, BODY, Party, date};
use super::pdf::{CONTENT_WIDTH, Document, LEFT};
use super::{AgreementDoc, DocumentError, LicenseTerms};

/// The licensed products, seats, period and server as labelled rows.
pub(crate) fn terms_rows(terms: &LicenseTerms) -> Vec<(&'static str, String)> {
    vec![
        ("Products", terms.products.join(", ")),
        (
            "Seats",
            format!(
                "{} (users working at the same time, as counted by the license server)",
                terms.seats
            ),
        ),
        (
            "License period",
            format!("from {} to {}", date(terms.start), date(terms.end)),
        ),
        ("License server", terms.license_server.clone()),
    ]
}

/// The license agreement as a PDF.
pub fn license_agreement_pdf(doc: &AgreementDoc) -> Result<Vec<u8>, DocumentError> {
    let mut d = Document::new(
        &format!("License agreement {}", doc.agreement_number),
        &format!(
            "License agreement {}  ·  order {}  ·  {}",
            doc.agreement_number, doc.order_number, doc.vendor.name
        ),
    )?;
    parts::letterhead(
        &mut d,
        &doc.vendor,
        "LICENSE AGREEMENT",
        &doc.agreement_number,
    );
    parts::facts(
        &mut d,
        &[
            ("Date", date(doc.date)),
            ("Order number", doc.order_number.clone()),
            ("Price", doc.total.to_string()),
        ],
    );
    d.paragraph(
        LEFT,
        CONTENT_WIDTH,
        BODY,
        &format!(
            "This license agreement is made on {} between the following parties, in connection with order {}.",
            date(doc.date),
            doc.order_number
        ),
    );
    d.skip(8.0);
    parts::parties(
        &mut d,
        ("Licensor", Party::from(&doc.vendor)),
        ("Licensee", Party::from(&doc.customer)),
    );

    parts::heading(&mut d, "§ 1  Subject of the agreement");
    parts::clause(
        &mut d,
        "1.",
        "The Licensor grants the Licensee a non-exclusive, non-transferable license to use the \
         software products listed below, on the terms of this agreement:",
    );
    parts::key_values(
        &mut d,
        LEFT + 22.0,
        CONTENT_WIDTH - 22.0,
        100.0,
        &terms_rows(&doc.terms),
    );
    d.skip(4.0);
    parts::clause(
        &mut d,
        "2.",
        &format!(
            "At no time may more than {} users use the products at once. The license server \
             named above counts the seats in use and refuses a seat beyond that number.",
            doc.terms.seats
        ),
    );

    parts::heading(&mut d, "§ 2  Price and payment");
    parts::clause(
        &mut d,
        "1.",
        &format!(
            "The price of the license for the whole license period is {} (gross).",
            doc.total
        ),
    );
    parts::clause(
        &mut d,
        "2.",
        &format!(
            "The Licensee pays the price by bank transfer to the Licensor's account at {} \
             (IBAN {}, SWIFT/BIC {}) according to the invoice issued for order {}.",
            doc.vendor.bank_name, doc.vendor.iban, doc.vendor.swift, doc.order_number
        ),
    );

    parts::heading(&mut d, "§ 3  Term and delivery");
    parts::clause(
        &mut d,
        "1.",
        &format!(
            "The license runs from {} to {}. When the price is paid after the start date, the \
             Licensor may move the start of the period to the day of payment.",
            date(doc.terms.start),
            date(doc.terms.end)
        ),
    );
    parts::clause(
        &mut d,
        "2.",
        "The Licensor delivers the license electronically once the price is paid: as an \
         activation key for the Licensee's LAN License Server, or by enabling the Web License \
         Server for the Licensee's organization. Delivery is confirmed by an acceptance act.",
    );
    parts::clause(
        &mut d,
        "3.",
        "The license may be renewed for a further period by a new order before it ends.",
    );

    parts::heading(&mut d, "§ 4  Use of the software");
    parts::clause(
        &mut d,
        "1.",
        "The Licensee may install the products on any number of its computers; only the number \
         of users working at the same time is limited.",
    );
    parts::clause(
        &mut d,
        "2.",
        "The Licensee may not sublicense, rent or lend the license to third parties, nor \
         circumvent the license server, except where the law expressly permits it.",
    );

    // The last provisions stay on the page of the signatures.
    d.ensure(KEEP_WITH_SIGNATURES);
    parts::heading(&mut d, "§ 5  Final provisions");
    parts::clause(
        &mut d,
        "1.",
        "Changes to this agreement must be made in writing or in electronic form to be valid.",
    );
    parts::clause(
        &mut d,
        "2.",
        "Matters not covered by this agreement are governed by the law of the Licensor's seat.",
    );
    parts::clause(
        &mut d,
        "3.",
        "The agreement is made in two identical counterparts, one for each party.",
    );

    parts::signatures(
        &mut d,
        ("For the Licensor", &doc.vendor.name),
        ("For the Licensee", &doc.customer.name),
    );
    d.finish()
}
