//! The protobuf wire format, by hand: Warden decodes a handful of Feast messages (online
//! values, timestamps, the registry file) and a reader of tags and payloads is all that takes;
//! the writer serves the simulated online store of the demo and tests.

/// A protobuf field: number and payload.
pub(crate) enum Field<'a> {
    Varint(u32, u64),
    Fixed64(u32, [u8; 8]),
    Fixed32(u32, [u8; 4]),
    Bytes(u32, &'a [u8]),
}

fn varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// Appends `value` as a varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Appends a field's tag.
pub(crate) fn put_tag(out: &mut Vec<u8>, number: u32, wire_type: u8) {
    put_varint(out, (u64::from(number) << 3) | u64::from(wire_type));
}

pub(crate) fn fields(bytes: &[u8]) -> Option<Vec<Field<'_>>> {
    let mut at = 0;
    let mut out = Vec::new();
    while at < bytes.len() {
        let tag = varint(bytes, &mut at)?;
        let number = u32::try_from(tag >> 3).ok()?;
        out.push(match tag & 7 {
            0 => Field::Varint(number, varint(bytes, &mut at)?),
            1 => {
                let raw = bytes.get(at..at + 8)?;
                at += 8;
                Field::Fixed64(number, raw.try_into().ok()?)
            }
            2 => {
                let len = usize::try_from(varint(bytes, &mut at)?).ok()?;
                let raw = bytes.get(at..at.checked_add(len)?)?;
                at += len;
                Field::Bytes(number, raw)
            }
            5 => {
                let raw = bytes.get(at..at + 4)?;
                at += 4;
                Field::Fixed32(number, raw.try_into().ok()?)
            }
            _ => return None,
        });
    }
    Some(out)
}

/// The payloads of every length-delimited field `number` (repeated fields appear once each).
pub(crate) fn messages<'a>(fields: &[Field<'a>], number: u32) -> Vec<&'a [u8]> {
    fields
        .iter()
        .filter_map(|f| match f {
            Field::Bytes(n, payload) if *n == number => Some(*payload),
            _ => None,
        })
        .collect()
}

/// The last length-delimited field `number` (protobuf: the last one wins).
pub(crate) fn message<'a>(fields: &[Field<'a>], number: u32) -> Option<&'a [u8]> {
    messages(fields, number).pop()
}

/// Field `number` as UTF-8 text.
pub(crate) fn text(fields: &[Field<'_>], number: u32) -> Option<String> {
    message(fields, number).and_then(|b| String::from_utf8(b.to_vec()).ok())
}

/// The last varint field `number`.
pub(crate) fn varint_field(fields: &[Field<'_>], number: u32) -> Option<u64> {
    fields.iter().rev().find_map(|f| match f {
        Field::Varint(n, v) if *n == number => Some(*v),
        _ => None,
    })
}
