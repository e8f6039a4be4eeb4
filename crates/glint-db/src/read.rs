//! Reads outside write transactions: on a SQLite file they run on the
//! [`crate::sqlite`] readers, anywhere else through the sqlx pool. Decoding
//! is written once, over [`RowRead`].

use glint_model::Image;
#[cfg(test)]
use rusqlite::Connection;
#[cfg(test)]
use sea_query::Values;
use sea_query::{QueryStatementWriter, SelectStatement};

use crate::children::image_with_children;
use crate::images::{Versioned, versioned};
use crate::rows::RowRead;
use crate::sqlite;
use crate::{Database, DbError, Dialect, exec};

impl Database {
    /// Runs one read-only statement expected to return a few rows (a
    /// member, an image's members, a count) and decodes each with `decode`.
    pub(crate) async fn read_rows<S, T>(
        &self,
        statement: &S,
        decode: fn(&dyn RowRead) -> Result<T, DbError>,
    ) -> Result<Vec<T>, DbError>
    where
        S: QueryStatementWriter,
    {
        if let Some(reads) = self.reads() {
            let (sql, values) = exec::build(Dialect::Sqlite, statement);
            return reads
                .run_here(|conn| sqlite::query(conn, &sql, &values, decode))
                .await;
        }
        let found = self.fetch_all(statement).await?;
        found.iter().map(|row| decode(row)).collect()
    }

    /// [`Database::read_rows`] for a list's statement that reads an index
    /// alone: on MySQL/MariaDB not prepared (see
    /// [`Database::fetch_all_unprepared`]), on PostgreSQL planned for its
    /// values (see [`Database::fetch_list_rows`]).
    pub(crate) async fn read_index_rows<S, T>(
        &self,
        statement: &S,
        decode: fn(&dyn RowRead) -> Result<T, DbError>,
    ) -> Result<Vec<T>, DbError>
    where
        S: QueryStatementWriter,
    {
        let found = match self.dialect() {
            Dialect::Sqlite => return self.read_rows(statement, decode).await,
            Dialect::MySql => self.fetch_all_unprepared(statement).await?,
            Dialect::Postgres => self.fetch_list_rows(statement).await?,
        };
        found.iter().map(|row| decode(row)).collect()
    }

    /// Runs a list's image query (built on [`crate::images::select_images`]):
    /// one statement, the children coming from each row's copy; on
    /// PostgreSQL planned for its values (see [`Database::fetch_list_rows`]).
    pub(crate) async fn fetch_images(&self, query: SelectStatement) -> Result<Vec<Image>, DbError> {
        self.fetch_many(query, image_with_children, Read::ListPage)
            .await
    }

    /// Runs an image query of other reads than a list's (versions of given
    /// images), as [`Database::fetch_images`] with each row's version.
    pub(crate) async fn fetch_versioned(
        &self,
        query: SelectStatement,
    ) -> Result<Vec<Versioned>, DbError> {
        self.fetch_many(query, versioned, Read::Other).await
    }

    /// Runs a query of many rows; on the SQLite readers it runs on the
    /// blocking pool.
    async fn fetch_many<T: Send + 'static>(
        &self,
        query: SelectStatement,
        decode: fn(&dyn RowRead) -> Result<T, DbError>,
        read: Read,
    ) -> Result<Vec<T>, DbError> {
        if let Some(reads) = self.reads() {
            let (sql, values) = exec::build(Dialect::Sqlite, &query);
            return reads
                .run(move |conn| sqlite::query(conn, &sql, &values, decode))
                .await;
        }
        let found = match read {
            Read::ListPage => self.fetch_list_rows(&query).await?,
            Read::Other => self.fetch_all(&query).await?,
        };
        found.iter().map(|row| decode(row)).collect()
    }
}

/// What a query of many rows reads, which decides how it is sent.
#[derive(Clone, Copy)]
enum Read {
    /// A list page's rows: planned for their values on PostgreSQL.
    ListPage,
    Other,
}

/// The images of a rendered SQLite query.
#[cfg(test)]
fn read_images(conn: &Connection, sql: &str, values: &Values) -> Result<Vec<Image>, DbError> {
    sqlite::query(conn, sql, values, image_with_children)
}

#[cfg(test)]
mod tests {
    use glint_model::query::ImageListQuery;
    use rusqlite::StatementStatus;

    use super::*;
    use crate::Viewer;
    use crate::list::list_query;

    /// A list page binds new values into the cached page statement; that
    /// must not make SQLite prepare it again (see `sqlite::open_reader`).
    #[tokio::test]
    async fn list_pages_keep_their_statement_prepared_on_the_readers() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/glint.db", dir.path().display());
        let db = Database::connect(&url).await.unwrap();
        for _ in 0..3 {
            db.create_image(&crate::tests::sample_image())
                .await
                .unwrap();
        }
        let admin = Viewer {
            project_id: None,
            is_admin: true,
        };
        let query = list_query(
            crate::Dialect::Sqlite,
            &ImageListQuery::default(),
            &crate::list::ListPlan::default(),
            100,
            None,
            &admin,
        );
        let (sql, values) = exec::build(Dialect::Sqlite, &query);
        let readers = db.readers().expect("a SQLite file has readers");
        let reprepared = readers
            .run_here(|conn| {
                for _ in 0..3 {
                    assert_eq!(read_images(conn, &sql, &values)?.len(), 3);
                }
                Ok(conn
                    .prepare_cached(&sql)?
                    .get_status(StatementStatus::RePrepare))
            })
            .await
            .unwrap();
        assert_eq!(reprepared, 0);
        // Planned without the LIMIT value, the default order still walks
        // the index instead of sorting.
        let plan = readers
            .run_here(|conn| {
                let mut plan = String::new();
                let explain = format!("EXPLAIN QUERY PLAN {sql}");
                sqlite::for_each_row(conn, &explain, &values, |row| {
                    plan.push_str(row.text(3)?.unwrap_or_default());
                    Ok(())
                })?;
                Ok(plan)
            })
            .await
            .unwrap();
        assert!(plan.contains("ix_images_live_created"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }
}
