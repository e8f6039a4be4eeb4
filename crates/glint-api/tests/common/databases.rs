//! Fresh PostgreSQL / MariaDB databases for the tests that run on every
//! backend, created on the servers named by `GLINT_TEST_POSTGRES_URL` and
//! `GLINT_TEST_MYSQL_URL` and dropped afterwards.

use sqlx::{AnyConnection, AssertSqlSafe, Connection};

/// Where a test app keeps its metadata.
#[derive(Clone)]
pub enum Backend {
    Sqlite,
    /// The admin URL of a PostgreSQL server.
    Postgres(String),
    /// The admin URL of a MySQL or MariaDB server.
    Mysql(String),
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres(_) => "postgres",
            Backend::Mysql(_) => "mysql",
        })
    }
}

impl Backend {
    /// SQLite, plus each server whose URL is set in the environment.
    pub fn configured() -> Vec<Backend> {
        let mut out = vec![Backend::Sqlite];
        if let Ok(url) = std::env::var("GLINT_TEST_POSTGRES_URL") {
            out.push(Backend::Postgres(url));
        }
        if let Ok(url) = std::env::var("GLINT_TEST_MYSQL_URL") {
            out.push(Backend::Mysql(url));
        }
        out
    }
}

/// A database created for one test.
pub struct ServerDatabase {
    pub url: String,
    admin_url: String,
    name: String,
    postgres: bool,
}

impl ServerDatabase {
    pub async fn create(backend: &Backend) -> ServerDatabase {
        let (admin_url, postgres) = match backend {
            Backend::Postgres(url) => (url.clone(), true),
            Backend::Mysql(url) => (url.clone(), false),
            Backend::Sqlite => unreachable!("SQLite needs no server database"),
        };
        let name = format!(
            "glint_api_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        admin(&admin_url, &format!("CREATE DATABASE {name}")).await;
        ServerDatabase {
            url: with_database(&admin_url, &name),
            admin_url,
            name,
            postgres,
        }
    }

    /// Drops the database from a plain thread, since `Drop` cannot await.
    pub fn drop_now(self) {
        let handle = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let force = if self.postgres { " WITH (FORCE)" } else { "" };
            let sql = format!("DROP DATABASE IF EXISTS {}{force}", self.name);
            runtime.block_on(admin(&self.admin_url, &sql));
        });
        let _ = handle.join();
    }
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

/// The admin URL with its database name replaced by `name`.
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
