//! The simulated online store: a Redis speaking RESP2 over TCP with the commands Feast's
//! reader and Warden send (`PING`, `INFO`, `SCAN`, `HMGET`, `HGETALL`, and the `CLIENT`,
//! `SELECT` and `AUTH` a client sends on connecting), over the hashes
//! [`super::FeastSim::materialize`] writes. Anything else is refused with Redis's own error.

use std::sync::PoisonError;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use super::Shared;

/// Most arguments or bytes per argument a command may have (a client sending more is cut off).
const MAX_ARGUMENTS: usize = 4096;
const MAX_ARGUMENT_BYTES: usize = 1 << 20;

/// The memory limit `INFO` reports, so utilisation means something.
const MAX_MEMORY: usize = 256 << 20;

/// Accepts connections for the life of the process.
pub(crate) async fn serve(listener: TcpListener, online: Shared) {
    while let Ok((socket, _)) = listener.accept().await {
        tokio::spawn(connection(socket, online.clone()));
    }
}

async fn connection(socket: TcpStream, online: Shared) {
    // As Redis does: a pipeline's replies are written one by one, and Nagle's algorithm would
    // hold each behind the client's delayed acknowledgement.
    let _ = socket.set_nodelay(true);
    let (reader, mut writer) = socket.into_split();
    let mut reader = BufReader::new(reader);
    while let Some(command) = read_command(&mut reader).await {
        let quit = command
            .first()
            .is_some_and(|name| name.eq_ignore_ascii_case(b"QUIT"));
        let reply = answer(&online, &command);
        if writer.write_all(&reply).await.is_err() || quit {
            return;
        }
    }
}

/// One command: a RESP array of bulk strings, or an inline command; `None` at the end of the
/// stream or on a malformed or oversized request.
async fn read_command<R: tokio::io::AsyncBufRead + Unpin>(reader: &mut R) -> Option<Vec<Vec<u8>>> {
    let line = read_line(reader).await?;
    let Some(count) = line.strip_prefix(b"*") else {
        return Some(
            line.split(u8::is_ascii_whitespace)
                .filter(|word| !word.is_empty())
                .map(<[u8]>::to_vec)
                .collect(),
        );
    };
    let count: usize = std::str::from_utf8(count).ok()?.parse().ok()?;
    if count > MAX_ARGUMENTS {
        return None;
    }
    let mut arguments = Vec::with_capacity(count);
    for _ in 0..count {
        let header = read_line(reader).await?;
        let length: usize = std::str::from_utf8(header.strip_prefix(b"$")?)
            .ok()?
            .parse()
            .ok()?;
        if length > MAX_ARGUMENT_BYTES {
            return None;
        }
        let mut argument = vec![0; length + 2];
        reader.read_exact(&mut argument).await.ok()?;
        argument.truncate(length);
        arguments.push(argument);
    }
    Some(arguments)
}

/// A line without its `\r\n`.
async fn read_line<R: tokio::io::AsyncBufRead + Unpin>(reader: &mut R) -> Option<Vec<u8>> {
    let mut line = Vec::new();
    let read = reader
        .take(MAX_ARGUMENT_BYTES as u64)
        .read_until(b'\n', &mut line)
        .await
        .ok()?;
    if read == 0 || !line.ends_with(b"\n") {
        return None;
    }
    line.pop();
    if line.ends_with(b"\r") {
        line.pop();
    }
    Some(line)
}

fn bulk(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(format!("${}\r\n", bytes.len()).as_bytes());
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
}

fn array_header(out: &mut Vec<u8>, length: usize) {
    out.extend_from_slice(format!("*{length}\r\n").as_bytes());
}

fn error(message: &str) -> Vec<u8> {
    // A reply line cannot hold a line break; a client's bytes echoed back lose theirs.
    let clean: String = message
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!("-{clean}\r\n").into_bytes()
}

fn answer(online: &Shared, command: &[Vec<u8>]) -> Vec<u8> {
    let Some(name) = command.first() else {
        return error("ERR empty command");
    };
    let name = String::from_utf8_lossy(name).to_ascii_uppercase();
    let arguments = &command[1..];
    let online = online.lock().unwrap_or_else(PoisonError::into_inner);
    let mut out = Vec::new();
    match name.as_str() {
        "PING" => match arguments.first() {
            Some(message) => bulk(&mut out, message),
            None => out.extend_from_slice(b"+PONG\r\n"),
        },
        "CLIENT" | "SELECT" | "AUTH" | "QUIT" => out.extend_from_slice(b"+OK\r\n"),
        "INFO" => {
            let used: usize = (1 << 20)
                + online
                    .hashes
                    .iter()
                    .map(|(key, fields)| {
                        key.len() + fields.iter().map(|(f, v)| f.len() + v.len()).sum::<usize>()
                    })
                    .sum::<usize>();
            let text = format!(
                "# Server\r\nredis_version:7.2.4\r\nredis_mode:standalone\r\n\r\n# Clients\r\nconnected_clients:1\r\n\r\n# Memory\r\nused_memory:{used}\r\nmaxmemory:{MAX_MEMORY}\r\nmaxmemory_policy:noeviction\r\n\r\n# Stats\r\nrejected_connections:0\r\nevicted_keys:0\r\n\r\n# Keyspace\r\ndb0:keys={},expires=0\r\n",
                online.hashes.len()
            );
            bulk(&mut out, text.as_bytes());
        }
        "SCAN" => {
            // One pass answers everything: cursor 0 back tells the client the scan is done.
            let pattern = arguments
                .iter()
                .position(|a| a.eq_ignore_ascii_case(b"MATCH"))
                .and_then(|at| arguments.get(at + 1));
            let keys: Vec<&Vec<u8>> = online
                .hashes
                .keys()
                .filter(|key| pattern.is_none_or(|pattern| glob(pattern, key)))
                .collect();
            array_header(&mut out, 2);
            bulk(&mut out, b"0");
            array_header(&mut out, keys.len());
            for key in keys {
                bulk(&mut out, key);
            }
        }
        "HMGET" if arguments.len() >= 2 => {
            let hash = online.hashes.get(&arguments[0]);
            array_header(&mut out, arguments.len() - 1);
            for field in &arguments[1..] {
                match hash.and_then(|fields| fields.get(field)) {
                    Some(value) => bulk(&mut out, value),
                    None => out.extend_from_slice(b"$-1\r\n"),
                }
            }
        }
        "HGETALL" if arguments.len() == 1 => {
            let fields = online.hashes.get(&arguments[0]);
            array_header(&mut out, fields.map_or(0, |f| f.len() * 2));
            for (field, value) in fields.into_iter().flatten() {
                bulk(&mut out, field);
                bulk(&mut out, value);
            }
        }
        "HMGET" | "HGETALL" => {
            return error(&format!(
                "ERR wrong number of arguments for '{}' command",
                name.to_ascii_lowercase()
            ));
        }
        _ => return error(&format!("ERR unknown command '{name}'")),
    }
    out
}

/// Redis's `MATCH` glob: `*`, `?` and `\` escapes (classes are not needed by Feast's keys).
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| glob(rest, &text[skip..])),
        Some((b'?', rest)) => !text.is_empty() && glob(rest, &text[1..]),
        Some((b'\\', rest)) if !rest.is_empty() => {
            text.first() == Some(&rest[0]) && glob(&rest[1..], &text[1..])
        }
        Some((first, rest)) => text.first() == Some(first) && glob(rest, &text[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_redis_does() {
        assert!(glob(b"*demand", b"\x01\x00key demand"));
        assert!(!glob(b"*demand", b"demand other"));
        assert!(glob(br"*a\*b", b"xxa*b"));
        assert!(!glob(br"*a\*b", b"xxaqb"));
        assert!(glob(b"k?y", b"key"));
    }

    #[tokio::test]
    async fn requests_are_read_as_resp_arrays_or_inline_and_oversized_ones_refused() {
        let mut input: &[u8] = b"*2\r\n$4\r\nPING\r\n$2\r\nhi\r\nPING\r\n";
        assert_eq!(
            read_command(&mut input).await,
            Some(vec![b"PING".to_vec(), b"hi".to_vec()])
        );
        assert_eq!(read_command(&mut input).await, Some(vec![b"PING".to_vec()]));
        assert_eq!(read_command(&mut input).await, None);
        let mut huge: &[u8] = b"*99999999\r\n";
        assert_eq!(read_command(&mut huge).await, None);
    }
}
