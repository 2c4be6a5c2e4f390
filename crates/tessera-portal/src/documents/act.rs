//! The acceptance act of a paid order: the Licensor has delivered the license and the
//! Licensee accepts it.

use super::agreement::terms_rows;
use super::parts::KEEP_WITH_SIGNATURES;
use super::parts::{self, BODY, Party, date};
use super::pdf::{CONTENT_WIDTH, Document, LEFT};
use super::{AcceptanceActDoc, DocumentError};

/// The acceptance act as a PDF.
pub fn acceptance_act_pdf(doc: &AcceptanceActDoc) -> Result<Vec<u8>, DocumentError> {
    let mut d = Document::new(
        &format!("Acceptance act {}", doc.act_number),
        &format!(
            "Acceptance act {}  ·  agreement {}  ·  order {}",
            doc.act_number, doc.agreement_number, doc.order_number
        ),
    )?;
    parts::letterhead(&mut d, &doc.vendor, "ACCEPTANCE ACT", &doc.act_number);
    parts::facts(
        &mut d,
        &[
            ("Date", date(doc.date)),
            ("License agreement", doc.agreement_number.clone()),
            ("Order number", doc.order_number.clone()),
        ],
    );
    d.paragraph(
        LEFT,
        CONTENT_WIDTH,
        BODY,
        &format!(
            "Drawn up on {} under license agreement {} (order {}) between:",
            date(doc.date),
            doc.agreement_number,
            doc.order_number
        ),
    );
    d.skip(8.0);
    parts::parties(
        &mut d,
        ("Licensor", Party::from(&doc.vendor)),
        ("Licensee", Party::from(&doc.customer)),
    );

    parts::heading(&mut d, "The parties confirm");
    parts::clause(
        &mut d,
        "1.",
        &format!(
            "The Licensor has delivered, and the Licensee has accepted, the license for order {} \
             described below:",
            doc.order_number
        ),
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
        "The license was delivered in full and works as agreed; the Licensee has no \
         objections to the delivery.",
    );
    parts::clause(
        &mut d,
        "3.",
        "With this act the Licensor's obligation to deliver the license under the agreement \
         is fulfilled.",
    );
    // The last provisions stay on the page of the signatures.
    d.ensure(KEEP_WITH_SIGNATURES);
    parts::clause(
        &mut d,
        "4.",
        "The act is made in two identical counterparts, one for each party.",
    );

    parts::signatures(
        &mut d,
        ("Delivered by (Licensor)", &doc.vendor.name),
        ("Accepted by (Licensee)", &doc.customer.name),
    );
    d.finish()
}
