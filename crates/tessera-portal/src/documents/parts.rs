//! Pieces every document uses: the letterhead, boxes of facts, the parties side by
//! side, headings, labelled values, signatures, and how numbers and dates are written.

use chrono::NaiveDate;

use super::pdf::{CONTENT_WIDTH, Document, LEFT, RIGHT, Style};
use super::{CompanyDetails, VendorDetails};
use crate::money::Money;

pub const BODY: Style = Style::regular(9.5);
pub const SMALL: Style = Style::regular(8.0);
pub const LABEL: Style = Style::bold(7.0).gray(0.45);

/// A date as the documents write it: `2025-03-14`.
pub fn date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// An amount without its currency: `1 234.50`.
pub fn amount(m: &Money) -> String {
    let full = m.to_string();
    full.strip_suffix(&format!(" {}", m.currency))
        .unwrap_or(&full)
        .to_owned()
}

/// A tax rate in basis points as a percentage: `23%`, `8.5%`, `0%`.
pub fn rate(basis_points: i64) -> String {
    let sign = if basis_points < 0 { "-" } else { "" };
    let bp = basis_points.unsigned_abs();
    let whole = bp / 100;
    let frac = format!("{:02}", bp % 100);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        format!("{sign}{whole}%")
    } else {
        format!("{sign}{whole}.{frac}%")
    }
}

/// A party as the documents show it.
pub struct Party<'a> {
    pub name: &'a str,
    pub address: &'a [String],
    pub tax_id: &'a str,
    pub email: &'a str,
}

impl<'a> From<&'a VendorDetails> for Party<'a> {
    fn from(v: &'a VendorDetails) -> Self {
        Party {
            name: &v.name,
            address: &v.address,
            tax_id: &v.tax_id,
            email: &v.email,
        }
    }
}

impl<'a> From<&'a CompanyDetails> for Party<'a> {
    fn from(c: &'a CompanyDetails) -> Self {
        Party {
            name: &c.name,
            address: &c.address,
            tax_id: &c.tax_id,
            email: &c.email,
        }
    }
}

/// The vendor's letterhead on the left, the document's title and number on the right,
/// and a rule below.
pub fn letterhead(d: &mut Document, vendor: &VendorDetails, title: &str, number: &str) {
    let top = d.y;
    let title_style = Style::bold(19.0);
    let number_style = Style::bold(10.5).gray(0.2);
    let right_width = (d.width(title_style, title))
        .max(d.width(number_style, number))
        .min(CONTENT_WIDTH * 0.5);
    let left_width = CONTENT_WIDTH - right_width - 20.0;

    let name_style = Style::bold(13.0);
    let mut y = top;
    for line in d.wrap_at_most(name_style, &vendor.name, left_width, 2) {
        d.text(LEFT, y - name_style.size, name_style, &line);
        y -= name_style.leading();
    }
    let small = SMALL.gray(0.3);
    let mut details: Vec<String> = vendor.address.clone();
    let mut ids = Vec::new();
    if !vendor.tax_id.is_empty() {
        ids.push(format!("Tax ID {}", vendor.tax_id));
    }
    if !vendor.email.is_empty() {
        ids.push(vendor.email.clone());
    }
    if !ids.is_empty() {
        details.push(ids.join("  ·  "));
    }
    for detail in details {
        for line in d.wrap_at_most(small, &detail, left_width, 2) {
            d.text(LEFT, y - small.size, small, &line);
            y -= small.leading();
        }
    }

    let title_fit = d.fit(title_style, title, right_width);
    d.text_right(RIGHT, top - title_fit.size, title_fit, title);
    let number_fit = d.fit(number_style, number, right_width);
    let number_y = top - title_fit.size - 6.0 - number_fit.size;
    d.text_right(RIGHT, number_y, number_fit, number);

    d.y = y.min(number_y - 4.0) - 8.0;
    d.line(LEFT, d.y, RIGHT, d.y, 1.2, 0.15);
    d.skip(14.0);
}

/// A shaded band of facts: small labels above their values, side by side.
pub fn facts(d: &mut Document, items: &[(&str, String)]) {
    if items.is_empty() {
        return;
    }
    let value_style = Style::bold(10.0);
    let height = 36.0;
    d.ensure(height + 12.0);
    let cell = CONTENT_WIDTH / items.len() as f32;
    let bottom = d.y - height;
    d.fill_rect(LEFT, bottom, CONTENT_WIDTH, height, 0.94);
    for (i, (label, value)) in items.iter().enumerate() {
        let x = LEFT + cell * i as f32 + 10.0;
        let width = cell - 16.0;
        d.text(x, d.y - 13.0, LABEL, &label.to_uppercase());
        let style = d.fit(value_style, value, width);
        let shown = d.truncate(style, value, width);
        d.text(x, d.y - 28.0, style, &shown);
    }
    d.y = bottom - 16.0;
}

/// The lines of a party's block (name first, bold).
fn party_lines(d: &Document, party: &Party<'_>, width: f32) -> Vec<(Style, String)> {
    let name_style = Style::bold(10.5);
    let mut out: Vec<(Style, String)> = d
        .wrap(name_style, party.name, width)
        .into_iter()
        .map(|l| (name_style, l))
        .collect();
    let mut rest: Vec<String> = party.address.to_vec();
    if !party.tax_id.is_empty() {
        rest.push(format!("Tax ID: {}", party.tax_id));
    }
    if !party.email.is_empty() {
        rest.push(format!("E-mail: {}", party.email));
    }
    for text in rest {
        out.extend(d.wrap(BODY, &text, width).into_iter().map(|l| (BODY, l)));
    }
    out
}

/// Blocks of text side by side, each under a small heading; the cursor ends below the
/// tallest.
pub fn columns(d: &mut Document, blocks: &[(&str, Vec<(Style, String)>)]) {
    if blocks.is_empty() {
        return;
    }
    let gap = 24.0;
    let width = (CONTENT_WIDTH - gap * (blocks.len() - 1) as f32) / blocks.len() as f32;
    let height = |lines: &[(Style, String)]| -> f32 {
        LABEL.leading() + 4.0 + lines.iter().map(|(s, _)| s.leading()).sum::<f32>()
    };
    let tallest = blocks
        .iter()
        .map(|(_, lines)| height(lines))
        .fold(0.0, f32::max);
    d.ensure(tallest.min(300.0));
    let top = d.y;
    let mut lowest = top;
    for (i, (heading, lines)) in blocks.iter().enumerate() {
        let x = LEFT + (width + gap) * i as f32;
        let mut y = top;
        d.text(x, y - LABEL.size, LABEL, &heading.to_uppercase());
        d.line(
            x,
            y - LABEL.size - 3.0,
            x + width,
            y - LABEL.size - 3.0,
            0.5,
            0.8,
        );
        y -= LABEL.leading() + 6.0;
        for (style, line) in lines {
            d.text(x, y - style.size, *style, line);
            y -= style.leading();
        }
        lowest = lowest.min(y);
    }
    d.y = lowest - 10.0;
}

/// Two parties side by side under their headings.
pub fn parties(d: &mut Document, left: (&str, Party<'_>), right: (&str, Party<'_>)) {
    let width = (CONTENT_WIDTH - 24.0) / 2.0;
    let l = party_lines(d, &left.1, width);
    let r = party_lines(d, &right.1, width);
    columns(d, &[(left.0, l), (right.0, r)]);
}

/// A section heading.
pub fn heading(d: &mut Document, text: &str) {
    let style = Style::bold(11.0);
    d.ensure(style.leading() * 3.0);
    d.skip(4.0);
    d.line_of_text(LEFT, style, text);
    d.skip(2.0);
}

/// Labelled values, one per row: the label in a column of its own, the value wrapped.
pub fn key_values(d: &mut Document, x: f32, width: f32, label_width: f32, rows: &[(&str, String)]) {
    let label_style = BODY.gray(0.35);
    for (label, value) in rows {
        let value_lines = d.wrap(BODY, value, width - label_width);
        let height = value_lines.len().max(1) as f32 * BODY.leading();
        d.ensure(height);
        let baseline = d.y - BODY.size;
        let label = d.truncate(label_style, label, label_width - 6.0);
        d.text(x, baseline, label_style, &label);
        for (i, line) in value_lines.iter().enumerate() {
            d.text(
                x + label_width,
                baseline - i as f32 * BODY.leading(),
                BODY,
                line,
            );
        }
        d.y -= height + 2.0;
    }
}

/// A numbered clause: its number in the margin, its text wrapped beside it.
pub fn clause(d: &mut Document, number: &str, text: &str) {
    let indent = 22.0;
    let lines = d.wrap(BODY, text, CONTENT_WIDTH - indent);
    for (i, line) in lines.iter().enumerate() {
        d.ensure(BODY.leading());
        let baseline = d.y - BODY.size;
        if i == 0 {
            d.text(LEFT, baseline, BODY, number);
        }
        d.text(LEFT + indent, baseline, BODY, line);
        d.y -= BODY.leading();
    }
    d.skip(3.0);
}

/// Room for the last clauses and the signatures together.
pub const KEEP_WITH_SIGNATURES: f32 = 170.0;

/// Places for two signatures, with the parties' names under the lines.
pub fn signatures(d: &mut Document, left: (&str, &str), right: (&str, &str)) {
    let height = 80.0;
    d.ensure(height);
    d.skip(44.0);
    let width = (CONTENT_WIDTH - 60.0) / 2.0;
    for (i, (role, name)) in [left, right].into_iter().enumerate() {
        let x = LEFT + (width + 60.0) * i as f32;
        d.line(x, d.y, x + width, d.y, 0.6, 0.3);
        d.text(x, d.y - 11.0, SMALL.gray(0.35), role);
        let name = d.truncate(SMALL, name, width);
        d.text(x, d.y - 22.0, SMALL, &name);
    }
    d.y -= 34.0;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_amounts_and_dates_are_written_plainly() {
        assert_eq!(rate(2300), "23%");
        assert_eq!(rate(850), "8.5%");
        assert_eq!(rate(0), "0%");
        assert_eq!(rate(1234), "12.34%");
        assert_eq!(amount(&Money::new(123_450, "EUR")), "1 234.50");
        assert_eq!(amount(&Money::new(-5, "PLN")), "-0.05");
        assert_eq!(
            date(NaiveDate::from_ymd_opt(2025, 3, 4).unwrap()),
            "2025-03-04"
        );
    }
}
