//! The store opens both backends for real: an SQLite file and the harness's PostgreSQL.

use warden_config::{SecretRef, StoreConfig};
use warden_store::{Store, StoreError};
use warden_testkit::stack;

#[tokio::test]
async fn sqlite_file_is_created_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested").join("warden.db");
    let store = Store::connect(&StoreConfig::Sqlite { path: path.clone() })
        .await
        .unwrap();
    let info = store.ping().await.unwrap();
    assert_eq!(info.backend, "sqlite");
    assert!(info.version.starts_with('3'), "sqlite {}", info.version);
    assert!(path.exists(), "the database file is created");
    let Store::Sqlite { pool, .. } = &store else {
        panic!("sqlite expected")
    };
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    store.close().await;
}

#[tokio::test]
async fn sqlite_in_an_unwritable_place_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "not a directory").unwrap();
    let path = blocker.join("warden.db");
    let error = Store::open_sqlite(&path).await.unwrap_err();
    assert!(matches!(error, StoreError::Connect { .. }));
    assert!(
        error.to_string().starts_with(&path.display().to_string()),
        "{error}"
    );
}

#[tokio::test]
async fn postgres_connects_through_a_secret_reference() {
    let Some(url) = stack::require("POSTGRES_URL") else {
        return;
    };
    let secret = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret.path(), format!("{url}\n")).unwrap();
    let config = StoreConfig::Postgres {
        url: SecretRef::File(secret.path().to_path_buf()),
        max_connections: 2,
    };
    let store = Store::connect(&config).await.unwrap();
    let info = store.ping().await.unwrap();
    assert_eq!(info.backend, "postgres");
    assert!(info.version.starts_with("15"), "postgres {}", info.version);
    let Store::Postgres { pool, .. } = &store else {
        panic!("postgres expected")
    };
    let sum: i32 = sqlx::query_scalar("SELECT 20 + 22")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(sum, 42);
    store.close().await;
}

#[tokio::test]
async fn unreachable_postgres_is_named_without_its_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://warden:hunter2@127.0.0.1:{port}/warden");
    let error = Store::open_postgres(&url, 1).await.unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with(&format!("postgres://warden:***@127.0.0.1:{port}/warden")),
        "{text}"
    );
    assert!(!text.contains("hunter2"));
}
