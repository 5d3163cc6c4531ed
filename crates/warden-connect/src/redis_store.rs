//! Redis, as Feast's online store: connection with timeouts, `PING`, and the `INFO` fields
//! that tell whether the store is healthy (memory against `maxmemory`, evictions, rejected
//! connections). Errors name the Redis URL without its password.

use std::collections::BTreeMap;
use std::time::Duration;

use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;
use serde::Serialize;
use url::Url;
use warden_config::Secret;

use crate::ConnectError;

/// A connection to one Redis server.
#[derive(Clone)]
pub struct RedisClient {
    connection: MultiplexedConnection,
    display_url: String,
    timeout: Duration,
}

impl std::fmt::Debug for RedisClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisClient")
            .field("url", &self.display_url)
            .finish()
    }
}

/// The health-relevant part of `INFO`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RedisInfo {
    /// `redis_version`.
    pub version: String,
    /// `used_memory` in bytes.
    pub used_memory_bytes: u64,
    /// `maxmemory` in bytes; 0 means no limit.
    pub max_memory_bytes: u64,
    /// `evicted_keys` since start.
    pub evicted_keys: u64,
    /// `rejected_connections` since start.
    pub rejected_connections: u64,
    /// `connected_clients`.
    pub connected_clients: u64,
    /// Every field, for evidence.
    pub raw: BTreeMap<String, String>,
}

impl RedisInfo {
    /// Parses the text `INFO` returns (`key:value` lines, `#` section headers).
    pub fn parse(text: &str) -> Self {
        let raw: BTreeMap<String, String> = text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.split_once(':'))
            .map(|(key, value)| (key.trim().to_string(), value.trim().to_string()))
            .collect();
        let number = |key: &str| {
            raw.get(key)
                .and_then(|value| value.parse().ok())
                .unwrap_or(0)
        };
        Self {
            version: raw.get("redis_version").cloned().unwrap_or_default(),
            used_memory_bytes: number("used_memory"),
            max_memory_bytes: number("maxmemory"),
            evicted_keys: number("evicted_keys"),
            rejected_connections: number("rejected_connections"),
            connected_clients: number("connected_clients"),
            raw,
        }
    }

    /// `used_memory / maxmemory`, or `None` when no limit is set.
    pub fn memory_utilization(&self) -> Option<f64> {
        (self.max_memory_bytes > 0)
            .then(|| self.used_memory_bytes as f64 / self.max_memory_bytes as f64)
    }
}

fn without_password(url: &Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    shown.to_string()
}

impl RedisClient {
    /// Connects to `url` (`redis://host:port[/db]`), authenticating with `password` if given.
    ///
    /// # Errors
    /// [`ConnectError::Unreachable`] or [`ConnectError::Timeout`] naming the URL.
    pub async fn connect(
        url: &Url,
        password: Option<&Secret>,
        timeout: Duration,
    ) -> Result<Self, ConnectError> {
        let display_url = without_password(url);
        let mut target = url.clone();
        if let Some(password) = password {
            target.set_password(Some(password.expose())).map_err(|()| {
                ConnectError::InvalidRequest {
                    url: display_url.clone(),
                    message: "cannot set a password on this URL".into(),
                }
            })?;
        }
        let client =
            redis::Client::open(target.as_str()).map_err(|err| ConnectError::InvalidRequest {
                url: display_url.clone(),
                message: err.to_string(),
            })?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout));
        let connection = client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|err| classify(&display_url, timeout, &err))?;
        Ok(Self {
            connection,
            display_url,
            timeout,
        })
    }

    /// The URL, password hidden.
    pub fn url(&self) -> &str {
        &self.display_url
    }

    /// Runs one command.
    ///
    /// # Errors
    /// Transport errors, timeouts and Redis errors, naming the URL and command.
    pub async fn query<T: redis::FromRedisValue>(
        &self,
        command: &redis::Cmd,
    ) -> Result<T, ConnectError> {
        let mut connection = self.connection.clone();
        command
            .query_async(&mut connection)
            .await
            .map_err(|err| classify(&self.display_url, self.timeout, &err))
    }

    /// Runs `commands` as one pipeline (one round trip), each reply as a `T`.
    ///
    /// # Errors
    /// As [`RedisClient::query`].
    pub async fn query_pipelined<T: redis::FromRedisValue>(
        &self,
        commands: Vec<redis::Cmd>,
    ) -> Result<Vec<T>, ConnectError> {
        if commands.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipeline = redis::pipe();
        for command in commands {
            pipeline.add_command(command);
        }
        let mut connection = self.connection.clone();
        pipeline
            .query_async(&mut connection)
            .await
            .map_err(|err| classify(&self.display_url, self.timeout, &err))
    }

    /// `PING`.
    ///
    /// # Errors
    /// As [`RedisClient::query`], or a reply other than `PONG`.
    pub async fn ping(&self) -> Result<(), ConnectError> {
        let reply: String = self.query(&redis::cmd("PING")).await?;
        if reply == "PONG" {
            Ok(())
        } else {
            Err(ConnectError::Decode {
                url: self.display_url.clone(),
                message: format!("PING answered {reply:?}"),
            })
        }
    }

    /// `INFO`, parsed.
    ///
    /// # Errors
    /// As [`RedisClient::query`].
    pub async fn info(&self) -> Result<RedisInfo, ConnectError> {
        let text: String = self.query(&redis::cmd("INFO")).await?;
        Ok(RedisInfo::parse(&text))
    }
}

fn classify(url: &str, timeout: Duration, err: &redis::RedisError) -> ConnectError {
    if err.is_timeout() {
        ConnectError::Timeout {
            url: url.to_string(),
            after: timeout,
        }
    } else if err.is_io_error() || err.is_connection_refusal() || err.is_connection_dropped() {
        ConnectError::Unreachable {
            url: url.to_string(),
            message: err.to_string(),
        }
    } else {
        ConnectError::Status {
            url: url.to_string(),
            status: 0,
            code: err.code().map(str::to_string),
            message: err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_info_sections() {
        let text = "# Server\r\nredis_version:7.0.15\r\n\r\n# Memory\r\nused_memory:1048576\r\n\
                    maxmemory:4194304\r\n# Stats\r\nevicted_keys:12\r\nrejected_connections:3\r\n\
                    # Clients\r\nconnected_clients:7\r\n";
        let info = RedisInfo::parse(text);
        assert_eq!(info.version, "7.0.15");
        assert_eq!(info.used_memory_bytes, 1_048_576);
        assert_eq!(info.evicted_keys, 12);
        assert_eq!(info.rejected_connections, 3);
        assert_eq!(info.connected_clients, 7);
        assert_eq!(info.memory_utilization(), Some(0.25));
        assert_eq!(RedisInfo::parse("maxmemory:0").memory_utilization(), None);
    }

    #[test]
    fn urls_in_messages_hide_the_password() {
        let url = Url::parse("redis://:hunter2@redis:6379/0").unwrap();
        let shown = without_password(&url);
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("***"));
    }
}
