//! The team's CSV import (First name, Last name, Email, Product): the RFC 4180 splitter
//! and the reading of rows never panic, a refusal is a 4xx with a message, and every
//! row read names its line in the file (after the header, within the text).
#![no_main]

use axum::response::IntoResponse;
use libfuzzer_sys::fuzz_target;
use tessera_portal::teams::{parse_csv, read_import};

fuzz_target!(|text: &str| {
    let lines = text.matches('\n').count() + 1;
    if let Ok(records) = parse_csv(text) {
        for (line, _) in &records {
            assert!(*line >= 1 && *line <= lines, "line {line} of {lines}");
        }
    }
    match read_import(text) {
        Ok(rows) => {
            for row in rows {
                assert!(row.line >= 2 && row.line <= lines, "line {} of {lines}", row.line);
                assert_eq!(row.email, row.email.trim());
            }
        }
        Err(e) => assert!(e.into_response().status().is_client_error()),
    }
});
