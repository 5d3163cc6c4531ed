//! The schemas the fake Kubernetes API server holds objects to, and a checker for the part of
//! JSON Schema / OpenAPI v3 they use. `data/kubernetes/v1.31-objects.schema.json` holds the
//! Kubernetes objects the fake serves or accepts, from Kubernetes' OpenAPI in its strict form
//! (unknown fields are errors); `data/kserve/inferenceservice-v1beta1.schema.json` is KServe's
//! InferenceService CRD schema. Both are written by `scripts/vendor-schemas.py` (descriptions
//! dropped, repeated subtrees shared under `$defs`).
//!
//! The checker answers as an API server with `fieldValidation=Strict` would: an unknown field,
//! a wrong type, a value outside an enum or a declared range, or a missing required field is an
//! error naming its path. Not checked: `pattern` and `format` (the schemas' regular expressions
//! are Go's, and the fake's own values are what tests put in).

use serde_json::Value;

const KUBERNETES: &str = include_str!("../data/kubernetes/v1.31-objects.schema.json");
const KSERVE: &str = include_str!("../data/kserve/inferenceservice-v1beta1.schema.json");

fn parsed(cell: &'static std::sync::OnceLock<Value>, text: &str) -> &'static Value {
    // A corrupt embedded file parses to `null`: every check then fails loudly, none passes.
    cell.get_or_init(|| serde_json::from_str(text).unwrap_or(Value::Null))
}

/// Kubernetes' schemas of the objects the fake serves or accepts.
pub fn kubernetes() -> &'static Value {
    static CELL: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    parsed(&CELL, KUBERNETES)
}

/// KServe's InferenceService (v1beta1) schema, from its CRD.
pub fn inference_service() -> &'static Value {
    static CELL: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    parsed(&CELL, KSERVE)
}

/// Checks `value` against the Kubernetes definition `name` (e.g.
/// `io.k8s.api.batch.v1.CronJob`).
///
/// # Errors
/// The first problem, with its path; an unknown definition is one.
pub fn check_kubernetes(name: &str, value: &Value) -> Result<(), String> {
    let root = kubernetes();
    let schema = &root["$defs"][name];
    if schema.is_null() {
        return Err(format!("no Kubernetes schema for {name}"));
    }
    let short = name.rsplit('.').next().unwrap_or(name);
    check(root, schema, value, short)
}

/// Checks an InferenceService against KServe's CRD schema.
///
/// # Errors
/// The first problem, with its path.
pub fn check_inference_service(value: &Value) -> Result<(), String> {
    let root = inference_service();
    check(root, root, value, "InferenceService")
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn has_type(value: &Value, wanted: &str) -> bool {
    let actual = type_name(value);
    actual == wanted || (wanted == "number" && actual == "integer")
}

/// Checks `value` at `at` against `schema`, resolving `$ref`s in `root`'s `$defs`.
///
/// # Errors
/// The first problem, with its path.
pub fn check(root: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/$defs/");
        let target = &root["$defs"][name];
        if target.is_null() {
            return Err(format!(
                "{at}: the schema refers to {reference}, which it lacks"
            ));
        }
        return check(root, target, value, at);
    }
    for combinator in ["oneOf", "anyOf"] {
        if let Some(branches) = schema[combinator].as_array() {
            let errors: Vec<String> = branches
                .iter()
                .filter_map(|branch| check(root, branch, value, at).err())
                .collect();
            if errors.len() == branches.len() {
                return Err(errors.join("; or "));
            }
        }
    }
    if let Some(all) = schema["allOf"].as_array() {
        for branch in all {
            check(root, branch, value, at)?;
        }
    }
    if value.is_null() {
        let nullable = schema["nullable"] == true
            || schema["type"]
                .as_array()
                .is_some_and(|types| types.iter().any(|t| t == "null"));
        return if nullable || schema["type"].is_null() {
            Ok(())
        } else {
            Err(format!("{at} is null, which the schema does not allow"))
        };
    }
    if schema["x-kubernetes-int-or-string"] == true {
        return if value.is_string() || type_name(value) == "integer" {
            Ok(())
        } else {
            Err(format!(
                "{at} is {}, not an integer or a string",
                type_name(value)
            ))
        };
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(one) => vec![one.as_str()],
        Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() && !types.iter().any(|t| has_type(value, t)) {
        return Err(format!(
            "{at} is {}, the schema wants {}",
            type_name(value),
            types.join(" or ")
        ));
    }
    if let Some(allowed) = schema["enum"].as_array()
        && !allowed.contains(value)
    {
        return Err(format!("{at}: {value} is not one of {}", schema["enum"]));
    }
    if let Some(number) = value.as_f64() {
        if let Some(minimum) = schema["minimum"].as_f64()
            && number < minimum
        {
            return Err(format!("{at}: {number} is below the minimum {minimum}"));
        }
        if let Some(maximum) = schema["maximum"].as_f64()
            && number > maximum
        {
            return Err(format!("{at}: {number} is above the maximum {maximum}"));
        }
    }
    if let (Some(text), Some(limit)) = (value.as_str(), schema["maxLength"].as_u64())
        && text.chars().count() as u64 > limit
    {
        return Err(format!("{at} is longer than {limit} characters"));
    }
    match value {
        Value::Array(items) if schema["items"].is_object() => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| check(root, &schema["items"], item, &format!("{at}[{i}]"))),
        Value::Object(fields) => check_object(root, schema, fields, at),
        _ => Ok(()),
    }
}

fn check_object(
    root: &Value,
    schema: &Value,
    fields: &serde_json::Map<String, Value>,
    at: &str,
) -> Result<(), String> {
    if let Some(required) = schema["required"].as_array() {
        for name in required.iter().filter_map(Value::as_str) {
            if !fields.contains_key(name) {
                return Err(format!("{at}.{name} is required"));
            }
        }
    }
    let preserve = schema["x-kubernetes-preserve-unknown-fields"] == true;
    let additional = &schema["additionalProperties"];
    // A schema that declares properties (or forbids others) names every field it keeps; a
    // bare `type: object` (a CRD's `metadata`) is checked elsewhere by the API server.
    let closed = additional == &Value::Bool(false)
        || (schema["properties"].is_object() && additional.is_null() && !preserve);
    for (key, inner) in fields {
        let path = format!("{at}.{key}");
        let property = &schema["properties"][key];
        if !property.is_null() {
            check(root, property, inner, &path)?;
        } else if additional.is_object() {
            check(root, additional, inner, &path)?;
        } else if closed {
            return Err(format!("{path} is not a field the schema declares"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_embedded_schemas_parse_and_hold_the_objects_the_fake_uses() {
        for name in [
            "io.k8s.api.batch.v1.CronJob",
            "io.k8s.api.autoscaling.v1.Scale",
            "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler",
            "io.k8s.api.core.v1.PodList",
            "io.k8s.api.core.v1.EventList",
            "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
        ] {
            assert!(kubernetes()["$defs"][name].is_object(), "{name}");
        }
        assert_eq!(
            inference_service()["properties"]["apiVersion"]["type"],
            "string"
        );
    }

    #[test]
    fn a_scale_with_an_unknown_field_or_a_wrong_type_is_refused_with_its_path() {
        let name = "io.k8s.api.autoscaling.v1.Scale";
        let good = json!({"apiVersion": "autoscaling/v1", "kind": "Scale",
                          "metadata": {"name": "redis"}, "spec": {"replicas": 3}});
        check_kubernetes(name, &good).unwrap();
        let typo = json!({"spec": {"replica": 3}});
        assert_eq!(
            check_kubernetes(name, &typo).unwrap_err(),
            "Scale.spec.replica is not a field the schema declares"
        );
        let text = json!({"spec": {"replicas": "3"}});
        assert_eq!(
            check_kubernetes(name, &text).unwrap_err(),
            "Scale.spec.replicas is string, the schema wants integer or null"
        );
        assert!(check_kubernetes("io.k8s.api.Nothing", &good).is_err());
    }

    #[test]
    fn an_inference_service_is_held_to_kserves_crd() {
        let good = json!({
            "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": "demand-forecast", "annotations": {"a": "b"}},
            "spec": {"predictor": {"canaryTrafficPercent": 10,
                     "model": {"modelFormat": {"name": "sklearn"}, "storageUri": "s3://m/2"}}}
        });
        check_inference_service(&good).unwrap();
        let mut misspelt = good.clone();
        misspelt["spec"]["predictor"]["model"]["storageURI"] = json!("s3://m/1");
        let error = check_inference_service(&misspelt).unwrap_err();
        assert!(error.contains("spec.predictor.model.storageURI"), "{error}");
        let mut string = good.clone();
        string["spec"]["predictor"]["canaryTrafficPercent"] = json!("10");
        let error = check_inference_service(&string).unwrap_err();
        assert!(error.contains("canaryTrafficPercent is string"), "{error}");
        let mut no_format = good.clone();
        no_format["spec"]["predictor"]["model"]["modelFormat"] = json!({});
        let error = check_inference_service(&no_format).unwrap_err();
        assert!(error.contains("modelFormat.name is required"), "{error}");
    }
}
