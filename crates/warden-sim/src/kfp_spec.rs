//! The Kubeflow Pipelines v2beta1 API description (`data/kfp/kfp-v2beta1.swagger.json`) and
//! the two checks fakes of KFP make with it: which declared operation a request is (method,
//! path template with the `:retry` / `:disable` / `:enable` custom verbs, and its declared
//! query parameters), and whether a response body uses only properties and enum values the
//! description declares. KFP cannot run on this machine; these keep its fakes honest.

use serde_json::Value;

/// The API description, as published by the Kubeflow Pipelines project.
pub const SPEC: &str = include_str!("../data/kfp/kfp-v2beta1.swagger.json");

/// The description, parsed once. Were the embedded file corrupt this would be `null`, and
/// every request would match no operation: tests fail loudly, they cannot pass by accident.
pub fn spec() -> &'static Value {
    static PARSED: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    PARSED.get_or_init(|| serde_json::from_str(SPEC).unwrap_or(Value::Null))
}

/// The operation id `method path` is, with its declared query parameter names.
pub fn operation(spec: &Value, method: &str, path: &str) -> Option<(String, Vec<String>)> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    for (template, operations) in spec["paths"].as_object()? {
        let parts: Vec<&str> = template.trim_matches('/').split('/').collect();
        if parts.len() != segments.len() {
            continue;
        }
        let matches = parts.iter().zip(&segments).all(|(part, segment)| {
            match part.split_once('}') {
                // `{run_id}` or `{run_id}:retry`
                Some((_, suffix)) if part.starts_with('{') => {
                    segment.ends_with(suffix) && segment.len() > suffix.len()
                }
                _ => part == segment,
            }
        });
        if !matches {
            continue;
        }
        let op = &operations[method.to_lowercase()];
        if op.is_null() {
            continue;
        }
        let params = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "query")
            .filter_map(|p| p["name"].as_str().map(str::to_string))
            .collect();
        return Some((op["operationId"].as_str()?.to_string(), params));
    }
    None
}

/// Every key of `value` is a property of `schema` and every enum value a declared one
/// (following `$ref`s, arrays and objects); the error names the first path that is not.
///
/// # Errors
/// The path of the first undeclared property or value.
pub fn conforms(spec: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/definitions/");
        return conforms(spec, &spec["definitions"][name], value, at);
    }
    match value {
        Value::Object(fields) if schema["properties"].is_object() => {
            for (key, inner) in fields {
                let property = &schema["properties"][key];
                if property.is_null() {
                    return Err(format!("{at}.{key} is not in the API description"));
                }
                conforms(spec, property, inner, &format!("{at}.{key}"))?;
            }
            Ok(())
        }
        Value::Array(items) if schema["items"].is_object() => {
            items.iter().enumerate().try_for_each(|(i, item)| {
                conforms(spec, &schema["items"], item, &format!("{at}[{i}]"))
            })
        }
        Value::String(text) if schema["enum"].is_array() => {
            let declared = schema["enum"]
                .as_array()
                .is_some_and(|values| values.iter().any(|e| e == text));
            if declared {
                Ok(())
            } else {
                Err(format!("{at}: {text:?} is not one of {}", schema["enum"]))
            }
        }
        _ => Ok(()),
    }
}

/// `conforms` against the named definition (e.g. `v2beta1Run`).
///
/// # Errors
/// As [`conforms`].
pub fn conforms_to(spec: &Value, definition: &str, value: &Value) -> Result<(), String> {
    conforms(
        spec,
        &serde_json::json!({"$ref": format!("#/definitions/{definition}")}),
        value,
        definition,
    )
}
