//! Throw-away databases on a PostgreSQL or MySQL/MariaDB server, for test
//! suites that run on every backend (feature `testing`).

use sqlx::{AnyConnection, AssertSqlSafe, Connection};

/// Creates a database named `<prefix>_<random>` on the server of
/// `admin_url`; returns its URL and its name (for [`drop_database`]).
pub async fn create_database(admin_url: &str, prefix: &str) -> (String, String) {
    let name = format!(
        "{prefix}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    admin(admin_url, &format!("CREATE DATABASE {name}")).await;
    (with_database(admin_url, &name), name)
}

/// Drops a database made by [`create_database`], closing PostgreSQL
/// sessions still open on it.
pub async fn drop_database(admin_url: &str, name: &str, postgres: bool) {
    let force = if postgres { " WITH (FORCE)" } else { "" };
    admin(admin_url, &format!("DROP DATABASE IF EXISTS {name}{force}")).await;
}

async fn admin(url: &str, sql: &str) {
    sqlx::any::install_default_drivers();
    let mut conn = AnyConnection::connect(url).await.expect("admin connection");
    sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
        .execute(&mut conn)
        .await
        .expect(sql);
    let _ = conn.close().await;
}

/// `scheme://auth@host:port/<name>?params` from the admin URL.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let root = match base[authority_start..].find('/') {
        Some(i) => &base[..authority_start + i],
        None => base,
    };
    match query {
        Some(q) => format!("{root}/{name}?{q}"),
        None => format!("{root}/{name}"),
    }
}
