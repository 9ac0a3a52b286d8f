//! Every report JSON the tests produce is checked against `schemas/report.schema.json`
//! (SPEC §12.6, the report), so the schema, the SPEC and the code cannot drift apart unnoticed.

use std::sync::OnceLock;

use serde_json::Value;

/// The schema file, as the repository holds it.
pub const REPORT_SCHEMA: &str = include_str!("../../schemas/report.schema.json");

fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let schema: Value =
            serde_json::from_str(REPORT_SCHEMA).expect("schemas/report.schema.json is JSON");
        jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&schema)
            .expect("schemas/report.schema.json is a valid JSON Schema (draft 2020-12)")
    })
}

/// The schema as a JSON value.
pub fn report_schema() -> Value {
    serde_json::from_str(REPORT_SCHEMA).expect("schemas/report.schema.json is JSON")
}

/// Every way `report` breaks the schema, one line each (`at <instance path>: <error>`); empty
/// when it is valid.
pub fn report_schema_errors(report: &Value) -> Vec<String> {
    validator()
        .iter_errors(report)
        .map(|e| format!("at {}: {e}", e.instance_path()))
        .collect()
}

/// Panics, naming every violation and the report, unless `report` is valid under the schema.
/// Returns it, so a test can go on reading it.
#[track_caller]
pub fn assert_report_schema(report: &Value) -> &Value {
    let errors = report_schema_errors(report);
    assert!(
        errors.is_empty(),
        "the report does not match schemas/report.schema.json:\n  {}\nreport: {}",
        errors.join("\n  "),
        serde_json::to_string_pretty(report).unwrap_or_default()
    );
    report
}
