//! How Feast lays out its Redis online store, so Warden can read it without the feature
//! server (which may be the part that is down): the entity key (serialization version 3),
//! the hash fields (`murmur3_32("<view>:<feature>")`, `_ts:<view>`), and the protobuf values
//! (`feast.types.Value`, `google.protobuf.Timestamp`) decoded by hand — a few scalar fields do
//! not justify a protobuf toolchain.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::protobuf::{Field, fields, put_tag, put_varint};

/// An entity's key value, as Feast serializes it.
#[derive(Debug, Clone, PartialEq)]
pub enum EntityValue {
    /// `INT64` join key.
    Int64(i64),
    /// `INT32` join key.
    Int32(i32),
    /// `STRING` join key.
    String(String),
}

impl EntityValue {
    /// From a JSON entity value and the join key's Feast type.
    pub fn from_json(value: &Value, value_type: &str) -> Option<Self> {
        match value_type {
            "INT64" => value.as_i64().map(Self::Int64),
            "INT32" => value
                .as_i64()
                .and_then(|v| i32::try_from(v).ok())
                .map(Self::Int32),
            "STRING" => value.as_str().map(|s| Self::String(s.to_string())),
            _ => None,
        }
    }

    /// As JSON, the way the feature server takes it.
    pub fn to_json(&self) -> Value {
        match self {
            Self::Int64(v) => Value::from(*v),
            Self::Int32(v) => Value::from(*v),
            Self::String(v) => Value::from(v.as_str()),
        }
    }

    fn type_and_bytes(&self) -> (u32, Vec<u8>) {
        match self {
            Self::String(v) => (VALUE_TYPE_STRING, v.as_bytes().to_vec()),
            Self::Int32(v) => (VALUE_TYPE_INT32, v.to_le_bytes().to_vec()),
            Self::Int64(v) => (VALUE_TYPE_INT64, v.to_le_bytes().to_vec()),
        }
    }
}

/// An entity as text, `key=value[,key=value]` over its join keys sorted by name — the same
/// label [`crate::closure::latest_offline_values`] keys the offline rows by.
pub fn entity_label(entity: &[(String, EntityValue)]) -> String {
    let mut sorted: Vec<&(String, EntityValue)> = entity.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    sorted
        .iter()
        .map(|(name, value)| format!("{name}={}", value.to_json()))
        .collect::<Vec<_>>()
        .join(",")
}

const VALUE_TYPE_STRING: u32 = 2;
const VALUE_TYPE_INT32: u32 = 3;
const VALUE_TYPE_INT64: u32 = 4;

/// The Redis key of one entity: serialized entity key (version 3: join keys sorted by name,
/// every name then every value, each with type and length) followed by the project name.
pub fn entity_key(join_keys: &[(String, EntityValue)], project: &str) -> Vec<u8> {
    let mut sorted: Vec<&(String, EntityValue)> = join_keys.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut key = Vec::new();
    key.extend_from_slice(&(sorted.len() as u32).to_le_bytes());
    for (name, _) in &sorted {
        key.extend_from_slice(&VALUE_TYPE_STRING.to_le_bytes());
        key.extend_from_slice(&(name.len() as u32).to_le_bytes());
        key.extend_from_slice(name.as_bytes());
    }
    for (_, value) in &sorted {
        let (value_type, bytes) = value.type_and_bytes();
        key.extend_from_slice(&value_type.to_le_bytes());
        key.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        key.extend_from_slice(&bytes);
    }
    key.extend_from_slice(project.as_bytes());
    key
}

/// Reads a key written by [`entity_key`] back into join keys, if it belongs to `project`.
pub fn decode_entity_key(key: &[u8], project: &str) -> Option<Vec<(String, EntityValue)>> {
    let mut cursor = Cursor {
        bytes: key.strip_suffix(project.as_bytes())?,
        at: 0,
    };
    let count = cursor.word()? as usize;
    if count == 0 || count > 16 {
        return None;
    }
    let mut names = Vec::with_capacity(count);
    for _ in 0..count {
        let (value_type, payload) = cursor.typed()?;
        if value_type != VALUE_TYPE_STRING {
            return None;
        }
        names.push(String::from_utf8(payload.to_vec()).ok()?);
    }
    let mut keys = Vec::with_capacity(count);
    for name in names {
        let (value_type, payload) = cursor.typed()?;
        let value = match value_type {
            VALUE_TYPE_INT64 => EntityValue::Int64(i64::from_le_bytes(payload.try_into().ok()?)),
            VALUE_TYPE_INT32 => EntityValue::Int32(i32::from_le_bytes(payload.try_into().ok()?)),
            VALUE_TYPE_STRING => EntityValue::String(String::from_utf8(payload.to_vec()).ok()?),
            _ => return None,
        };
        keys.push((name, value));
    }
    (cursor.at == cursor.bytes.len()).then_some(keys)
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn word(&mut self) -> Option<u32> {
        let bytes = self.bytes.get(self.at..self.at + 4)?;
        self.at += 4;
        Some(u32::from_le_bytes(bytes.try_into().ok()?))
    }

    fn typed(&mut self) -> Option<(u32, &'a [u8])> {
        let value_type = self.word()?;
        let len = self.word()? as usize;
        let payload = self.bytes.get(self.at..self.at.checked_add(len)?)?;
        self.at += len;
        Some((value_type, payload))
    }
}

/// The hash field holding one feature's value: murmur3_32 (seed 0) of `"<view>:<feature>"`,
/// little-endian.
pub fn feature_field(view: &str, feature: &str) -> [u8; 4] {
    murmur3_32(format!("{view}:{feature}").as_bytes(), 0).to_le_bytes()
}

/// The hash field holding the entity's event time for a view.
pub fn timestamp_field(view: &str) -> String {
    format!("_ts:{view}")
}

/// MurmurHash3, x86 32-bit.
pub fn murmur3_32(data: &[u8], seed: u32) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mut hash = seed;
    let mut blocks = data.chunks_exact(4);
    for block in &mut blocks {
        let mut k = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        hash ^= k;
        hash = hash
            .rotate_left(13)
            .wrapping_mul(5)
            .wrapping_add(0xe654_6b64);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        let mut k = 0u32;
        for (i, byte) in tail.iter().enumerate() {
            k |= u32::from(*byte) << (8 * i);
        }
        hash ^= k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
    }
    hash ^= data.len() as u32;
    hash ^= hash >> 16;
    hash = hash.wrapping_mul(0x85eb_ca6b);
    hash ^= hash >> 13;
    hash = hash.wrapping_mul(0xc2b2_ae35);
    hash ^ (hash >> 16)
}

/// Decodes a serialized `google.protobuf.Timestamp`; `None` if it is not one.
pub fn decode_timestamp(bytes: &[u8]) -> Option<DateTime<Utc>> {
    let (mut seconds, mut nanos) = (0i64, 0u32);
    for field in fields(bytes)? {
        match field {
            Field::Varint(1, v) => seconds = v as i64,
            Field::Varint(2, v) => nanos = u32::try_from(v).ok()?,
            _ => return None,
        }
    }
    DateTime::from_timestamp(seconds, nanos)
}

/// Serializes `at` as a `google.protobuf.Timestamp`, as Feast writes `_ts:<view>`.
pub fn encode_timestamp(at: DateTime<Utc>) -> Vec<u8> {
    let mut out = Vec::new();
    if at.timestamp() != 0 {
        put_tag(&mut out, 1, 0);
        put_varint(&mut out, at.timestamp() as u64);
    }
    if at.timestamp_subsec_nanos() != 0 {
        put_tag(&mut out, 2, 0);
        put_varint(&mut out, u64::from(at.timestamp_subsec_nanos()));
    }
    out
}

/// Serializes a scalar JSON value as the `feast.types.Value` of Feast type `value_type`
/// (`null` as `null_val`); the inverse of [`decode_value`].
///
/// # Errors
/// A value that does not fit the type, or a type Warden does not write (lists, bytes).
pub fn encode_value(value: &Value, value_type: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let wrong = || format!("{value} is not a {value_type}");
    match (value_type, value) {
        (_, Value::Null) => {
            put_tag(&mut out, 19, 0);
            put_varint(&mut out, 0);
        }
        ("STRING", Value::String(text)) => {
            put_tag(&mut out, 2, 2);
            put_varint(&mut out, text.len() as u64);
            out.extend_from_slice(text.as_bytes());
        }
        ("INT32" | "INT64" | "UNIX_TIMESTAMP", _) => {
            let number = value.as_i64().ok_or_else(wrong)?;
            let field = match value_type {
                "INT32" => 3,
                "INT64" => 4,
                _ => 8,
            };
            put_tag(&mut out, field, 0);
            // Negative int32 values are sign-extended to ten bytes, as protobuf does.
            put_varint(&mut out, number as u64);
        }
        ("DOUBLE", _) => {
            put_tag(&mut out, 5, 1);
            out.extend_from_slice(&value.as_f64().ok_or_else(wrong)?.to_le_bytes());
        }
        ("FLOAT", _) => {
            put_tag(&mut out, 6, 5);
            out.extend_from_slice(&(value.as_f64().ok_or_else(wrong)? as f32).to_le_bytes());
        }
        ("BOOL", Value::Bool(flag)) => {
            put_tag(&mut out, 7, 0);
            put_varint(&mut out, u64::from(*flag));
        }
        _ => return Err(format!("cannot write {value} as a {value_type}")),
    }
    Ok(out)
}

/// Decodes a serialized scalar `feast.types.Value` into JSON (`null` for an empty or null
/// value); `Err` names what Warden does not decode (lists, unknown fields).
pub fn decode_value(bytes: &[u8]) -> Result<Value, String> {
    let fields = fields(bytes).ok_or("not a protobuf message")?;
    let Some(field) = fields.into_iter().next_back() else {
        return Ok(Value::Null);
    };
    Ok(match field {
        Field::Bytes(1, raw) => Value::from(String::from_utf8_lossy(raw).into_owned()),
        Field::Bytes(2, raw) => Value::from(
            std::str::from_utf8(raw)
                .map_err(|_| "string_val is not UTF-8")?
                .to_string(),
        ),
        Field::Varint(3, v) => Value::from(v as i64 as i32),
        Field::Varint(4 | 8, v) => Value::from(v as i64),
        Field::Fixed64(5, raw) => {
            serde_json::Number::from_f64(f64::from_le_bytes(raw)).map_or(Value::Null, Value::from)
        }
        Field::Fixed32(6, raw) => serde_json::Number::from_f64(f64::from(f32::from_le_bytes(raw)))
            .map_or(Value::Null, Value::from),
        Field::Varint(7, v) => Value::from(v != 0),
        Field::Varint(19, _) => Value::Null,
        Field::Varint(n, _) | Field::Fixed64(n, _) | Field::Fixed32(n, _) | Field::Bytes(n, _) => {
            return Err(format!(
                "value field {n} (list or unknown type) is not decoded"
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes read from the harness's Redis after `feast materialize` (store 4, project
    /// `warden_demo`, view `store_daily_features`).
    const STORE_4_KEY: &[u8] = b"\x01\x00\x00\x00\x02\x00\x00\x00\x08\x00\x00\x00store_id\x04\x00\x00\x00\x08\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00warden_demo";

    #[test]
    fn entity_keys_match_what_feast_wrote() {
        let key = entity_key(&[("store_id".into(), EntityValue::Int64(4))], "warden_demo");
        assert_eq!(key, STORE_4_KEY);
        assert_eq!(
            decode_entity_key(STORE_4_KEY, "warden_demo"),
            Some(vec![("store_id".into(), EntityValue::Int64(4))])
        );
        assert_eq!(decode_entity_key(STORE_4_KEY, "other_project"), None);
        let two = entity_key(
            &[
                ("store_id".into(), EntityValue::Int64(7)),
                ("item".into(), EntityValue::String("sku-1".into())),
            ],
            "p",
        );
        assert_eq!(
            decode_entity_key(&two, "p"),
            Some(vec![
                ("item".into(), EntityValue::String("sku-1".into())),
                ("store_id".into(), EntityValue::Int64(7)),
            ])
        );
    }

    #[test]
    fn feature_fields_match_what_feast_wrote() {
        assert_eq!(
            feature_field("store_daily_features", "sales_lag_7"),
            *b"\xadRx\xc8"
        );
        assert_eq!(
            feature_field("store_daily_features", "sales_lag_28"),
            *b"\xbf\xc1\x9aw"
        );
        assert_eq!(
            feature_field("store_daily_features", "promo"),
            *b"\xe9\xd3\xaej"
        );
    }

    #[test]
    fn values_and_timestamps_decode() {
        assert_eq!(
            decode_value(b")\x00\x00\x00\x00\x00\x00D@"),
            Ok(Value::from(40.0))
        );
        assert_eq!(decode_value(b" \x00"), Ok(Value::from(0)));
        assert_eq!(decode_value(b"\x12\x02ab"), Ok(Value::from("ab")));
        assert_eq!(decode_value(b""), Ok(Value::Null));
        assert!(decode_value(b"\xff").is_err());
        let ts = decode_timestamp(b"\x08\xb0\xe0\x9c\xd8\x06").expect("timestamp");
        assert_eq!(ts.to_rfc3339(), "2026-11-25T19:00:00+00:00");
    }

    #[test]
    fn encoded_values_and_timestamps_read_back_and_match_feasts_bytes() {
        assert_eq!(
            encode_value(&Value::from(40.0), "DOUBLE").unwrap(),
            b")\x00\x00\x00\x00\x00\x00D@"
        );
        assert_eq!(
            encode_value(&Value::from("ab"), "STRING").unwrap(),
            b"\x12\x02ab"
        );
        for (value, value_type) in [
            (Value::from(-3), "INT32"),
            (Value::from(1_234_567_890_123_i64), "INT64"),
            (Value::from(2.5), "FLOAT"),
            (Value::from(true), "BOOL"),
            (Value::Null, "DOUBLE"),
        ] {
            let bytes = encode_value(&value, value_type).unwrap();
            assert_eq!(decode_value(&bytes), Ok(value), "{value_type}");
        }
        assert!(encode_value(&Value::from("x"), "INT64").is_err());
        assert_eq!(
            encode_timestamp("2026-11-25T19:00:00Z".parse().unwrap()),
            b"\x08\xb0\xe0\x9c\xd8\x06"
        );
    }

    #[test]
    fn murmur3_matches_the_reference_vectors() {
        assert_eq!(murmur3_32(b"", 0), 0);
        assert_eq!(murmur3_32(b"hello", 0), 0x248b_fa47);
        assert_eq!(
            murmur3_32(b"The quick brown fox jumps over the lazy dog", 0),
            0x2e4f_f723
        );
    }
}
