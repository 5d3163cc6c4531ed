//! `warden feast check-schema` (R4.5): the offline source, the registry and the online values
//! must agree on every feature view's columns and types. A mismatch is what turns a
//! materialization into nulls or a predictor into a type error, so CI should fail on it.

use serde::Serialize;
use serde_json::Value;

use crate::registry::FeatureView;

/// The type families the three places can be compared in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TypeFamily {
    /// Whole numbers.
    Integer,
    /// Floating point.
    Float,
    /// Text.
    String,
    /// Booleans.
    Bool,
    /// Times.
    Timestamp,
    /// Bytes, lists, anything else.
    Other,
}

/// The family of a Feast `ValueType` name.
pub fn feast_family(value_type: &str) -> TypeFamily {
    match value_type {
        "INT32" | "INT64" => TypeFamily::Integer,
        "FLOAT" | "DOUBLE" => TypeFamily::Float,
        "STRING" => TypeFamily::String,
        "BOOL" => TypeFamily::Bool,
        "UNIX_TIMESTAMP" => TypeFamily::Timestamp,
        _ => TypeFamily::Other,
    }
}

/// The family of an Arrow type as `warden-data` names it (`Int64`, `Float64`, `Utf8`,
/// `Timestamp(Microsecond, Some("UTC"))`, …).
pub fn arrow_family(source_type: &str) -> TypeFamily {
    let head = source_type.split('(').next().unwrap_or(source_type);
    match head {
        "Int8" | "Int16" | "Int32" | "Int64" | "UInt8" | "UInt16" | "UInt32" | "UInt64" => {
            TypeFamily::Integer
        }
        "Float16" | "Float32" | "Float64" | "Decimal32" | "Decimal64" | "Decimal128" => {
            TypeFamily::Float
        }
        "Utf8" | "LargeUtf8" | "Utf8View" => TypeFamily::String,
        "Boolean" => TypeFamily::Bool,
        "Timestamp" | "Date32" | "Date64" => TypeFamily::Timestamp,
        _ => TypeFamily::Other,
    }
}

/// The family of a decoded online value (`None` for null: nothing to compare).
pub fn value_family(value: &Value) -> Option<TypeFamily> {
    match value {
        Value::Null => None,
        Value::Bool(_) => Some(TypeFamily::Bool),
        Value::Number(n) if n.is_f64() => Some(TypeFamily::Float),
        Value::Number(_) => Some(TypeFamily::Integer),
        Value::String(_) => Some(TypeFamily::String),
        _ => Some(TypeFamily::Other),
    }
}

/// A column of the offline source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfflineField {
    /// Name.
    pub name: String,
    /// Arrow type name.
    pub source_type: String,
}

/// One comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SchemaCheck {
    /// The view.
    pub view: String,
    /// The column.
    pub column: String,
    /// `offline` or `online`.
    pub against: &'static str,
    /// The registry's type.
    pub registry_type: String,
    /// What was found (`missing` when absent).
    pub found: String,
    /// Whether they agree.
    pub ok: bool,
}

/// Compares a view's registry schema with its offline source's columns and with online
/// values sampled per feature (`(feature, value)` pairs; nulls are skipped).
pub fn check_view(
    view: &FeatureView,
    offline: Option<&[OfflineField]>,
    online: &[(String, Value)],
) -> Vec<SchemaCheck> {
    let mut checks = Vec::new();
    if let Some(offline) = offline {
        let mut expected: Vec<(&str, &str)> = view
            .entity_columns
            .iter()
            .chain(&view.features)
            .map(|c| (c.name.as_str(), c.value_type.as_str()))
            .collect();
        if let Some(timestamp) = &view.source_timestamp_field {
            expected.push((timestamp.as_str(), "UNIX_TIMESTAMP"));
        }
        for (name, registry_type) in expected {
            let found = offline.iter().find(|f| f.name == name);
            checks.push(SchemaCheck {
                view: view.name.clone(),
                column: name.to_string(),
                against: "offline",
                registry_type: registry_type.to_string(),
                found: found.map_or("missing".into(), |f| f.source_type.clone()),
                ok: found
                    .is_some_and(|f| arrow_family(&f.source_type) == feast_family(registry_type)),
            });
        }
    }
    for feature in &view.features {
        let family = feast_family(&feature.value_type);
        let mut seen: Vec<TypeFamily> = online
            .iter()
            .filter(|(name, _)| *name == feature.name)
            .filter_map(|(_, value)| value_family(value))
            .collect();
        seen.dedup();
        // An integral double can come back as a JSON integer from the feature server;
        // comparing families of stored values (decoded from Redis) avoids that ambiguity.
        if let Some(other) = seen.iter().find(|f| **f != family) {
            checks.push(SchemaCheck {
                view: view.name.clone(),
                column: feature.name.clone(),
                against: "online",
                registry_type: feature.value_type.clone(),
                found: format!("{other:?}").to_lowercase(),
                ok: false,
            });
        } else if !seen.is_empty() {
            checks.push(SchemaCheck {
                view: view.name.clone(),
                column: feature.name.clone(),
                against: "online",
                registry_type: feature.value_type.clone(),
                found: format!("{family:?}").to_lowercase(),
                ok: true,
            });
        }
    }
    checks
}

/// One line per failed check, for evidence and cause ranking.
pub fn problems(checks: &[SchemaCheck]) -> Vec<String> {
    checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| {
            format!(
                "{}.{}: registry {} but {} has {}",
                c.view, c.column, c.registry_type, c.against, c.found
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Column;
    use serde_json::json;

    fn view() -> FeatureView {
        let column = |name: &str, value_type: &str| Column {
            name: name.into(),
            value_type: value_type.into(),
        };
        FeatureView {
            name: "store_daily_features".into(),
            entity_columns: vec![column("store_id", "INT64")],
            features: vec![column("sales_lag_7", "DOUBLE"), column("promo", "INT64")],
            ttl: None,
            source_uri: Some("data/store_daily.parquet".into()),
            source_timestamp_field: Some("event_timestamp".into()),
            materialization_intervals: vec![],
            online: true,
        }
    }

    fn field(name: &str, source_type: &str) -> OfflineField {
        OfflineField {
            name: name.into(),
            source_type: source_type.into(),
        }
    }

    #[test]
    fn agreeing_schemas_pass_and_each_kind_of_mismatch_is_named() {
        let offline = [
            field("store_id", "Int64"),
            field("event_timestamp", "Timestamp(Microsecond, Some(\"UTC\"))"),
            field("sales_lag_7", "Float64"),
            field("promo", "Int64"),
        ];
        let online = [
            ("sales_lag_7".to_string(), json!(10.5)),
            ("promo".to_string(), json!(1)),
            ("promo".to_string(), Value::Null),
        ];
        let checks = check_view(&view(), Some(&offline), &online);
        assert!(checks.iter().all(|c| c.ok), "{checks:?}");
        assert_eq!(checks.len(), 6);

        let drifted = [
            field("store_id", "Int64"),
            field("event_timestamp", "Timestamp(Microsecond, None)"),
            field("sales_lag_7", "Utf8"),
        ];
        let online = [("promo".to_string(), json!("yes"))];
        let found = problems(&check_view(&view(), Some(&drifted), &online));
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found[0].contains("sales_lag_7: registry DOUBLE but offline has Utf8"));
        assert!(found[1].contains("promo: registry INT64 but offline has missing"));
        assert!(found[2].contains("promo: registry INT64 but online has string"));
    }
}
