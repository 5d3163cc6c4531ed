//! `warden config example`: prints the commented example configuration shipped in the binary.

use crate::exit::{Code, Failure};
use crate::output::{self, Format};

/// The example configuration (the repository's `warden.example.yaml`, embedded).
pub const EXAMPLE: &str = include_str!("../../../../warden.example.yaml");

/// Prints the example as YAML, or in JSON mode as `{"yaml": "..."}`.
pub fn run(format: Format) -> Result<Code, Failure> {
    match format {
        Format::Text => print!("{EXAMPLE}"),
        Format::Json => output::print_json(&serde_json::json!({ "yaml": EXAMPLE }))?,
    }
    Ok(Code::Ok)
}
