//! The CSV import: reading the file (RFC 4180, any column order), matching each row to
//! a subscription, and assigning every row's seat or none, with a report per row.

use tessera_store::portal::{
    AssignmentBatch, BatchRow, NamedSubscriptionRecord, RowOutcome, TeamRecord, UserRecord,
};

use super::assignments::send_seat_assigned;
use super::capitalized;
use super::invitations::{INVITATION_TTL_MS, send_invitation};
use crate::accounts::check_email;
use crate::error::{PortalError, PortalResult};
use crate::security::{random_token, token_hash};
use crate::state::PortalState;

/// The most rows a CSV import takes.
pub const MAX_IMPORT_ROWS: usize = 5_000;

/// The CSV template's header.
pub const CSV_HEADER: &str = "First name,Last name,Email,Product";

/// One row of a CSV import, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRow {
    /// The line in the file (1 is the header).
    pub line: usize,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub product: String,
}

/// What happened to one row, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowReport {
    pub line: usize,
    pub email: String,
    pub product: String,
    pub ok: bool,
    pub text: String,
}

/// The outcome of an import or a hand assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub applied: bool,
    pub rows: Vec<RowReport>,
}

/// Splits CSV text into records (RFC 4180: quoted fields may hold commas, quotes as
/// `""` and line breaks).
pub fn parse_csv(text: &str) -> Result<Vec<(usize, Vec<String>)>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut field = String::new();
    let mut record: Vec<String> = Vec::new();
    let mut quoted = false;
    let mut line = 1usize;
    let mut start_line = 1usize;
    let mut chars = text.chars().peekable();
    let mut at_field_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                other => field.push(other),
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                quoted = true;
                at_field_start = false;
            }
            ',' | ';' => {
                record.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            '\r' => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                if record.iter().any(|f| !f.trim().is_empty()) {
                    records.push((start_line, std::mem::take(&mut record)));
                } else {
                    record.clear();
                }
                line += 1;
                start_line = line;
                at_field_start = true;
            }
            other => {
                field.push(other);
                at_field_start = false;
            }
        }
    }
    if quoted {
        return Err(format!(
            "a quoted field that starts on line {start_line} never ends"
        ));
    }
    record.push(field);
    if record.iter().any(|f| !f.trim().is_empty()) {
        records.push((start_line, record));
    }
    Ok(records)
}

/// Reads an import file: a header naming First name, Last name, Email and Product (in
/// any order, any case), then one person and product per row.
pub fn read_import(text: &str) -> PortalResult<Vec<ImportRow>> {
    let records = parse_csv(text)
        .map_err(|e| PortalError::invalid(format!("The file is not valid CSV: {e}.")))?;
    let Some(((_, header), rows)) = records.split_first() else {
        return Err(PortalError::invalid(format!(
            "The file is empty. Start from the template: its first line is {CSV_HEADER}."
        )));
    };
    let norm = |s: &str| s.trim().to_lowercase().replace(['_', '-'], " ");
    let col = |names: &[&str]| {
        header
            .iter()
            .position(|h| names.contains(&norm(h).as_str()))
    };
    let (Some(first), Some(last), Some(email)) = (
        col(&["first name", "firstname"]),
        col(&["last name", "lastname"]),
        col(&["email", "e mail"]),
    ) else {
        return Err(PortalError::invalid(format!(
            "The first line must name the columns: {CSV_HEADER}."
        )));
    };
    let product = col(&["product", "subscription"]);
    if rows.len() > MAX_IMPORT_ROWS {
        return Err(PortalError::invalid(format!(
            "The file has {} rows; an import takes at most {MAX_IMPORT_ROWS}.",
            rows.len()
        )));
    }
    let get = |r: &Vec<String>, i: Option<usize>| {
        i.and_then(|i| r.get(i))
            .map(|s| s.trim().to_owned())
            .unwrap_or_default()
    };
    Ok(rows
        .iter()
        .map(|(line, r)| ImportRow {
            line: *line,
            first_name: get(r, Some(first)),
            last_name: get(r, Some(last)),
            email: get(r, Some(email)),
            product: get(r, product),
        })
        .collect())
}

/// The subscription a row's Product names: a subscription id, a catalog product id,
/// or a product's name; empty when the team has only one subscription.
fn subscription_for<'a>(
    subs: &'a [NamedSubscriptionRecord],
    product: &str,
) -> Result<&'a NamedSubscriptionRecord, String> {
    let p = product.trim();
    if p.is_empty() {
        return match subs {
            [only] => Ok(only),
            [] => Err("this team has no named-user subscription".into()),
            _ => Err("name the product: this team has more than one subscription".into()),
        };
    }
    let matching: Vec<&NamedSubscriptionRecord> = subs
        .iter()
        .filter(|s| {
            s.id == p
                || s.product_id.eq_ignore_ascii_case(p)
                || s.product_name.eq_ignore_ascii_case(p)
        })
        .collect();
    match matching.as_slice() {
        [] => Err(format!("this team has no subscription of “{p}”")),
        [one] => Ok(one),
        // Several subscriptions of one product: the one with the most free seats first.
        many => Ok(many
            .iter()
            .max_by_key(|s| s.seats.saturating_sub(s.assigned))
            .copied()
            .unwrap_or(many[0])),
    }
}

/// Assigns seats to the rows' people, all or none: people new to the team are invited.
/// Every row is checked first (e-mail, product); any failed row, or a seat count that
/// would be exceeded, leaves everything as it was. E-mails go out once applied.
pub async fn assign_rows(
    state: &PortalState,
    team: &TeamRecord,
    by: &UserRecord,
    rows: &[ImportRow],
) -> PortalResult<ImportReport> {
    let subs = state.store.team_subscriptions(&team.id).await?;
    let mut reports: Vec<RowReport> = Vec::with_capacity(rows.len());
    let mut batch: Vec<BatchRow> = Vec::with_capacity(rows.len());
    let mut tokens: Vec<String> = Vec::with_capacity(rows.len());
    let mut batch_index: Vec<Option<usize>> = Vec::with_capacity(rows.len());
    let mut failed = false;
    for row in rows {
        let mut report = RowReport {
            line: row.line,
            email: row.email.clone(),
            product: row.product.clone(),
            ok: false,
            text: String::new(),
        };
        let email = match check_email(&row.email) {
            Ok(e) => e,
            Err(e) => {
                failed = true;
                report.text = if row.email.trim().is_empty() {
                    "No e-mail address.".into()
                } else {
                    e.message()
                };
                reports.push(report);
                batch_index.push(None);
                continue;
            }
        };
        if row.first_name.chars().count() > 100 || row.last_name.chars().count() > 100 {
            failed = true;
            report.text = "A name is longer than 100 characters.".into();
            reports.push(report);
            batch_index.push(None);
            continue;
        }
        let sub = match subscription_for(&subs, &row.product) {
            Ok(s) => s,
            Err(why) => {
                failed = true;
                report.text = format!("{}.", capitalized(&why));
                reports.push(report);
                batch_index.push(None);
                continue;
            }
        };
        report.product = sub.product_name.clone();
        let token = random_token();
        batch.push(BatchRow {
            email,
            first_name: row.first_name.clone(),
            last_name: row.last_name.clone(),
            subscription_id: sub.id.clone(),
            token_hash: token_hash(&token),
        });
        tokens.push(token);
        batch_index.push(Some(batch.len() - 1));
        reports.push(report);
    }
    // Checked rows go through the store even when another row failed, so that the report
    // says what each would have done; nothing is applied then.
    let (applied, outcomes) = state
        .store
        .apply_assignment_batch(
            &AssignmentBatch {
                organization_id: &team.organization_id,
                team_id: &team.id,
                rows: &batch,
                by: &by.id,
                invitation_expires_at: state.now() + INVITATION_TTL_MS,
                check_only: failed,
            },
            state.now(),
        )
        .await?;
    for (report, index) in reports.iter_mut().zip(&batch_index) {
        let Some(i) = index else { continue };
        let when = |done: &str, would: &str| {
            if applied {
                done.to_owned()
            } else {
                would.to_owned()
            }
        };
        match &outcomes[*i] {
            RowOutcome::Assigned { invited: true, .. } => {
                report.ok = true;
                report.text = when(
                    "Invited to the team and assigned a seat.",
                    "Would be invited and assigned a seat (not applied: another row failed).",
                );
            }
            RowOutcome::Assigned { invited: false, .. } => {
                report.ok = true;
                report.text = when(
                    "Assigned a seat.",
                    "Would be assigned a seat (not applied: another row failed).",
                );
            }
            RowOutcome::AlreadyAssigned { .. } => {
                report.ok = true;
                report.text = "Already has this product: no second seat.".into();
            }
            RowOutcome::Failed(why) => {
                report.text = format!("{}.", capitalized(why));
            }
        }
    }
    if applied {
        for (i, outcome) in outcomes.iter().enumerate() {
            if let RowOutcome::Assigned { invited, .. } = outcome {
                let row = &batch[i];
                let product = reports
                    .iter()
                    .zip(&batch_index)
                    .find(|(_, idx)| **idx == Some(i))
                    .map(|(r, _)| r.product.clone())
                    .unwrap_or_default();
                if *invited {
                    send_invitation(state, team, by, &row.email, &tokens[i]).await?;
                }
                send_seat_assigned(state, team, &row.email, &product).await?;
            }
        }
    }
    Ok(ImportReport {
        applied,
        rows: reports,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_quotes_semicolons_and_blank_lines_is_read() {
        let text = "\u{feff}First name,Last name,Email,Product\r\n\
                    \"Kowalska, Anna\",\"O\"\"Neil\",anna@office.example,share\r\n\
                    \r\n\
                    Bob;Smith;bob@office.example;share\n";
        let rows = read_import(text).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].first_name, "Kowalska, Anna");
        assert_eq!(rows[0].last_name, "O\"Neil");
        assert_eq!(rows[0].line, 2);
        assert_eq!(rows[1].email, "bob@office.example");
        assert_eq!(rows[1].line, 4);
    }

    #[test]
    fn a_file_without_the_columns_or_with_too_many_rows_is_refused() {
        assert!(read_import("Name,Mail\nA,a@b.c\n").is_err());
        assert!(read_import("").is_err());
        assert!(read_import("\"First name,Last name\n").is_err());
        let mut big = format!("{CSV_HEADER}\n");
        for i in 0..=MAX_IMPORT_ROWS {
            big.push_str(&format!("A,B,p{i}@office.example,share\n"));
        }
        let err = read_import(&big).unwrap_err();
        assert!(err.message().contains("at most 5000"), "{}", err.message());
    }
}
