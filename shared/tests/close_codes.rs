//! The close-code table for the browser client: every [`CloseCode`] with its number, name,
//! default reason and retry policy, written as JSON to `client-web/test/close_codes.json`.
//! `client-web/test/close.test.js` requires the JavaScript table (`client-web/src/sdk/close.js`)
//! to equal this file exactly, and this test fails when the checked-in file differs from the
//! Rust table, so the browser cannot drift from `shared/src/close.rs`.
//!
//! (It sits next to `test/vectors/`, not in it: `golden.rs` owns that directory and requires
//! its exact file set.)
//!
//! After a deliberate change to the table, regenerate with
//! `TICKWIRE_UPDATE_GOLDEN=1 cargo test -p tickwire-shared --test close_codes` and commit the
//! file.

use serde_json::{Value, json};
use std::path::PathBuf;
use tickwire_shared::close::{CloseCode, UNKNOWN_CODE_RETRY};

fn table() -> Value {
    let codes: Vec<Value> = CloseCode::ALL
        .iter()
        .map(|c| {
            json!({
                "code": c.code(),
                "name": c.name(),
                "reason": c.reason(),
                "retry": c.retry().as_str(),
            })
        })
        .collect();
    json!({ "unknown_code_retry": UNKNOWN_CODE_RETRY.as_str(), "codes": codes })
}

#[test]
fn close_code_table_matches_the_checked_in_file() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../client-web/test/close_codes.json");
    let mut text = serde_json::to_string_pretty(&table()).expect("JSON values serialize");
    text.push('\n');
    if std::env::var_os("TICKWIRE_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let disk = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        disk == text,
        "{} differs from shared/src/close.rs; if the change is deliberate, regenerate with \
         TICKWIRE_UPDATE_GOLDEN=1 cargo test -p tickwire-shared --test close_codes",
        path.display()
    );
}
