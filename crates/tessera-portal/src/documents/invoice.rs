//! The invoice: seller and buyer, dates and numbers, the items with their net, tax and
//! gross amounts, the totals, and how to pay by bank transfer.

use super::parts::{self, BODY, LABEL, Party, SMALL, amount, date, rate};
use super::pdf::{CONTENT_WIDTH, Document, LEFT, RIGHT, Style};
use super::{DocumentError, InvoiceDoc};
use crate::money::Money;

/// One line's amounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineAmounts {
    pub net: Money,
    pub tax: Money,
    pub gross: Money,
}

/// The amounts at one tax rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateAmounts {
    pub tax_rate_bp: i64,
    pub net: Money,
    pub tax: Money,
    pub gross: Money,
}

/// An invoice's amounts, all in minor units of one currency: each line's (net = unit
/// price × quantity, tax = net × rate rounded half away from zero, gross = net + tax),
/// the sums per tax rate, and the totals (the sums of the lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceTotals {
    pub lines: Vec<LineAmounts>,
    pub by_rate: Vec<RateAmounts>,
    pub net: Money,
    pub tax: Money,
    pub gross: Money,
}

fn overflow() -> DocumentError {
    DocumentError::Render("an amount is too large".into())
}

fn add(a: &Money, b: &Money) -> Result<Money, DocumentError> {
    a.checked_add(b).ok_or_else(overflow)
}

/// Computes an invoice's amounts; an invoice needs at least one line, and every line
/// the same currency.
pub fn invoice_totals(doc: &InvoiceDoc) -> Result<InvoiceTotals, DocumentError> {
    let first = doc
        .lines
        .first()
        .ok_or_else(|| DocumentError::Render("an invoice needs at least one line".into()))?;
    let currency = first.unit_price.currency.clone();
    let zero = Money::zero(currency.clone());
    let mut totals = InvoiceTotals {
        lines: Vec::with_capacity(doc.lines.len()),
        by_rate: Vec::new(),
        net: zero.clone(),
        tax: zero.clone(),
        gross: zero.clone(),
    };
    for line in &doc.lines {
        if line.unit_price.currency != currency {
            return Err(DocumentError::Render(format!(
                "the invoice mixes currencies ({currency} and {})",
                line.unit_price.currency
            )));
        }
        let net = line.unit_price.times(line.quantity).ok_or_else(overflow)?;
        let tax = net.percent_bp(line.tax_rate_bp).ok_or_else(overflow)?;
        let gross = add(&net, &tax)?;
        totals.net = add(&totals.net, &net)?;
        totals.tax = add(&totals.tax, &tax)?;
        totals.gross = add(&totals.gross, &gross)?;
        let index = match totals
            .by_rate
            .iter()
            .position(|r| r.tax_rate_bp == line.tax_rate_bp)
        {
            Some(i) => i,
            None => {
                totals.by_rate.push(RateAmounts {
                    tax_rate_bp: line.tax_rate_bp,
                    net: zero.clone(),
                    tax: zero.clone(),
                    gross: zero.clone(),
                });
                totals.by_rate.len() - 1
            }
        };
        let r = &mut totals.by_rate[index];
        r.net = add(&r.net, &net)?;
        r.tax = add(&r.tax, &tax)?;
        r.gross = add(&r.gross, &gross)?;
        totals.lines.push(LineAmounts { net, tax, gross });
    }
    totals
        .by_rate
        .sort_by_key(|r| std::cmp::Reverse(r.tax_rate_bp));
    Ok(totals)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Right,
}

struct Column {
    title: &'static str,
    width: f32,
    align: Align,
}

const PAD: f32 = 4.0;
const TABLE: Style = Style::regular(8.5);
const TABLE_HEAD: Style = Style::bold(7.5).gray(0.25);
/// At most this many lines of a description are shown.
const DESCRIPTION_LINES: usize = 8;

/// The narrowest the description column gets before the amounts are set smaller.
const MIN_DESCRIPTION: f32 = 130.0;
/// The smallest size amounts are set in.
const MIN_AMOUNT_SIZE: f32 = 6.0;

/// The table's columns, each as wide as its header and its widest cell need (amounts
/// are never cut), and the size amounts are set in: the description takes what is left,
/// and when that is too little the amounts are set smaller.
fn columns(d: &Document, cells: &[[String; 8]]) -> (Vec<Column>, Style) {
    let spec = [
        ("No.", Align::Right, 24.0),
        ("Description", Align::Left, 0.0),
        ("Qty", Align::Right, 30.0),
        ("Unit net price", Align::Right, 56.0),
        ("Tax rate", Align::Right, 36.0),
        ("Net", Align::Right, 56.0),
        ("Tax", Align::Right, 50.0),
        ("Gross", Align::Right, 58.0),
    ];
    let widths_at = |style: Style| -> Vec<f32> {
        spec.iter()
            .enumerate()
            .map(|(i, (_, _, min))| {
                cells
                    .iter()
                    .map(|row| d.width(style, &row[i]) + 2.0 * PAD + 4.0)
                    .fold(*min, f32::max)
            })
            .collect()
    };
    let mut style = TABLE;
    let mut widths = widths_at(style);
    let others = |w: &[f32]| -> f32 {
        w.iter()
            .enumerate()
            .filter(|(i, _)| *i != 1)
            .map(|(_, w)| w)
            .sum()
    };
    let needed = others(&widths);
    if CONTENT_WIDTH - needed < MIN_DESCRIPTION {
        let scale = (CONTENT_WIDTH - MIN_DESCRIPTION) / needed;
        style = style.size((style.size * scale).max(MIN_AMOUNT_SIZE));
        widths = widths_at(style);
    }
    widths[1] = (CONTENT_WIDTH - others(&widths)).max(60.0);
    let cols = spec
        .iter()
        .zip(widths)
        .map(|((title, align, _), width)| Column {
            title,
            width,
            align: *align,
        })
        .collect();
    (cols, style)
}

fn table_head(d: &mut Document, cols: &[Column]) {
    let wrapped: Vec<Vec<String>> = cols
        .iter()
        .map(|c| d.wrap(TABLE_HEAD, c.title, c.width - 2.0 * PAD))
        .collect();
    let lines = wrapped.iter().map(Vec::len).max().unwrap_or(1);
    let height = lines as f32 * TABLE_HEAD.leading() + 2.0 * PAD;
    d.ensure(height + 3.0 * TABLE.leading());
    let top = d.y;
    d.fill_rect(LEFT, top - height, CONTENT_WIDTH, height, 0.9);
    let mut x = LEFT;
    for (col, lines) in cols.iter().zip(&wrapped) {
        for (i, line) in lines.iter().enumerate() {
            let baseline = top - PAD - TABLE_HEAD.size - i as f32 * TABLE_HEAD.leading();
            match col.align {
                Align::Left => d.text(x + PAD, baseline, TABLE_HEAD, line),
                Align::Right => d.text_right(x + col.width - PAD, baseline, TABLE_HEAD, line),
            }
        }
        x += col.width;
    }
    d.y = top - height;
}

fn items(d: &mut Document, doc: &InvoiceDoc, totals: &InvoiceTotals) {
    let cells: Vec<[String; 8]> = doc
        .lines
        .iter()
        .zip(&totals.lines)
        .enumerate()
        .map(|(i, (line, amounts))| {
            [
                format!("{}", i + 1),
                String::new(),
                line.quantity.to_string(),
                amount(&line.unit_price),
                rate(line.tax_rate_bp),
                amount(&amounts.net),
                amount(&amounts.tax),
                amount(&amounts.gross),
            ]
        })
        .collect();
    let (cols, number_style) = columns(d, &cells);
    table_head(d, &cols);
    for (line, row) in doc.lines.iter().zip(&cells) {
        let description = d.wrap_at_most(
            TABLE,
            &line.description,
            cols[1].width - 2.0 * PAD,
            DESCRIPTION_LINES,
        );
        let height = description.len().max(1) as f32 * TABLE.leading() + 2.0 * PAD;
        if d.ensure(height) {
            table_head(d, &cols);
        }
        let top = d.y;
        let baseline = top - PAD - TABLE.size;
        let mut x = LEFT;
        for (col, cell) in cols.iter().zip(row) {
            if col.align == Align::Right {
                d.text_right(x + col.width - PAD, baseline, number_style, cell);
            }
            x += col.width;
        }
        let x = LEFT + cols[0].width + PAD;
        for (n, text) in description.iter().enumerate() {
            d.text(x, baseline - n as f32 * TABLE.leading(), TABLE, text);
        }
        d.y = top - height;
        d.line(LEFT, d.y, RIGHT, d.y, 0.5, 0.82);
    }
}

fn totals_block(d: &mut Document, totals: &InvoiceTotals) {
    let currency = &totals.net.currency;
    let mut rows: Vec<(String, String, Style)> = Vec::new();
    rows.push(("Net total".into(), totals.net.to_string(), BODY));
    if totals.by_rate.len() > 1 {
        for r in &totals.by_rate {
            rows.push((
                format!("Tax {} on {}", rate(r.tax_rate_bp), amount(&r.net)),
                r.tax.to_string(),
                BODY.gray(0.3),
            ));
        }
    }
    rows.push(("Tax total".into(), totals.tax.to_string(), BODY));
    let due = Style::bold(12.0);
    let height = rows.len() as f32 * BODY.leading() + due.leading() + 28.0;
    d.ensure(height);
    d.skip(10.0);
    let top = d.y;
    let label_x = RIGHT - 250.0;
    for (label, value, style) in &rows {
        let baseline = d.y - style.size;
        d.text(label_x, baseline, *style, label);
        d.text_right(RIGHT - 8.0, baseline, *style, value);
        d.y -= style.leading();
    }
    d.skip(4.0);
    let box_height = due.leading() + 10.0;
    d.fill_rect(
        label_x - 8.0,
        d.y - box_height,
        RIGHT - label_x + 8.0,
        box_height,
        0.9,
    );
    let baseline = d.y - 5.0 - due.size;
    d.text(label_x, baseline, due, "Total due");
    let gross = totals.gross.to_string();
    let fitted = d.fit(due, &gross, 150.0);
    d.text_right(RIGHT - 8.0, baseline, fitted, &gross);
    d.y -= box_height;
    // Beside the totals: the currency of the table.
    d.text(
        LEFT,
        top - SMALL.size,
        SMALL.gray(0.4),
        &format!("Amounts in the table in {currency}."),
    );
    d.skip(18.0);
}

fn payment(d: &mut Document, doc: &InvoiceDoc, totals: &InvoiceTotals) {
    let rows = [
        ("Bank", doc.vendor.bank_name.clone()),
        ("IBAN", doc.vendor.iban.clone()),
        ("SWIFT/BIC", doc.vendor.swift.clone()),
        ("Transfer title", doc.payment_reference.clone()),
        ("Amount", totals.gross.to_string()),
        ("Due date", date(doc.due_date)),
    ];
    let label_width = 90.0;
    let inner = CONTENT_WIDTH - 24.0;
    let height: f32 = rows
        .iter()
        .map(|(_, v)| {
            d.wrap(BODY, v, inner - label_width).len().max(1) as f32 * BODY.leading() + 2.0
        })
        .sum::<f32>()
        + 2.0 * LABEL.leading()
        + 34.0;
    d.ensure(height);
    let top = d.y;
    d.stroke_rect(LEFT, top - height, CONTENT_WIDTH, height, 0.8, 0.6);
    d.skip(12.0);
    d.text(
        LEFT + 12.0,
        d.y - LABEL.size,
        LABEL,
        "PAYMENT BY BANK TRANSFER",
    );
    d.skip(LABEL.leading() + 6.0);
    parts::key_values(d, LEFT + 12.0, inner, label_width, &rows);
    d.skip(4.0);
    let note = format!(
        "Please use the transfer title exactly as shown, so that the payment is matched to order {}.",
        doc.order_number
    );
    d.paragraph(LEFT + 12.0, inner, SMALL.gray(0.35), &note);
    d.y = d.y.min(top - height) - 12.0;
}

/// The invoice as a PDF.
pub fn invoice_pdf(doc: &InvoiceDoc) -> Result<Vec<u8>, DocumentError> {
    let totals = invoice_totals(doc)?;
    let mut d = Document::new(
        &format!("Invoice {}", doc.invoice_number),
        &format!("Invoice {}  ·  {}", doc.invoice_number, doc.vendor.name),
    )?;
    parts::letterhead(&mut d, &doc.vendor, "INVOICE", &doc.invoice_number);
    parts::facts(
        &mut d,
        &[
            ("Issue date", date(doc.issue_date)),
            ("Due date", date(doc.due_date)),
            ("Order number", doc.order_number.clone()),
            ("Total due", totals.gross.to_string()),
        ],
    );
    parts::parties(
        &mut d,
        ("Seller", Party::from(&doc.vendor)),
        ("Buyer", Party::from(&doc.customer)),
    );
    d.skip(6.0);
    items(&mut d, doc, &totals);
    totals_block(&mut d, &totals);
    payment(&mut d, doc, &totals);
    d.finish()
}
