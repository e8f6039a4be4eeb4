//! Fresh PostgreSQL / MariaDB databases for the tests that run on every
//! backend, created on the servers named by `GLINT_TEST_POSTGRES_URL` and
//! `GLINT_TEST_MYSQL_URL` and dropped afterwards.

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
        let (url, name) = glint_db::testing::create_database(&admin_url, "glint_api").await;
        ServerDatabase {
            url,
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
            runtime.block_on(glint_db::testing::drop_database(
                &self.admin_url,
                &self.name,
                self.postgres,
            ));
        });
        let _ = handle.join();
    }
}
