//! Reads outside write transactions: on a SQLite file they run on the
//! [`crate::sqlite`] readers, anywhere else through the sqlx pool. Decoding
//! is written once, over [`RowRead`].

use glint_model::Image;
use rusqlite::Connection;
use sea_query::{QueryStatementWriter, SelectStatement, Values};

use crate::children::{self, Children, image_with_children};
use crate::rows::RowRead;
use crate::sqlite::{self, ReadTx};
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
        if let Some(readers) = self.readers() {
            let (sql, values) = exec::build(Dialect::Sqlite, statement);
            return readers
                .run_here(|conn| sqlite::query(conn, &sql, &values, decode))
                .await;
        }
        let found = exec::fetch_all(self.pool(), self.dialect(), statement).await?;
        found.iter().map(|row| decode(row)).collect()
    }

    /// Runs an image query (built on [`crate::images::select_images`]) and
    /// completes the images whose rows hold no children copy from the child
    /// tables: one statement, or two when some rows predate the copy.
    pub(crate) async fn fetch_images(&self, query: SelectStatement) -> Result<Vec<Image>, DbError> {
        if let Some(readers) = self.readers() {
            let (sql, values) = exec::build(Dialect::Sqlite, &query);
            return readers
                .run(move |conn| read_images(conn, &sql, &values))
                .await;
        }
        let dialect = self.dialect();
        let mut conn = self.pool().acquire().await?;
        let found = exec::fetch_all(&mut *conn, dialect, &query).await?;
        let rows = found
            .iter()
            .map(|row| image_with_children(row))
            .collect::<Result<Vec<_>, _>>()?;
        let (mut images, missing) = children::without_copies(rows);
        if missing.is_empty() {
            return Ok(images);
        }
        let query = children::children_json(dialect, missing.iter().map(String::as_str));
        let found = exec::fetch_all(&mut *conn, dialect, &query).await?;
        let json: Option<&str> = match found.first() {
            Some(row) => row.text(0)?,
            None => None,
        };
        let mut children = Children::new(&mut images);
        children.add_json(json)?;
        children.finish();
        Ok(images)
    }
}

/// The images of a rendered SQLite query and their children, read in one
/// snapshot.
fn read_images(conn: &Connection, sql: &str, values: &Values) -> Result<Vec<Image>, DbError> {
    let tx = ReadTx::begin(conn)?;
    let rows = sqlite::query(conn, sql, values, image_with_children)?;
    let (mut images, missing) = children::without_copies(rows);
    if !missing.is_empty() {
        let query = children::children_rows(missing.iter().map(String::as_str));
        let (sql, values) = exec::build(Dialect::Sqlite, &query);
        let mut children = Children::new(&mut images);
        sqlite::for_each_row(conn, &sql, &values, |row| children.add_row(row))?;
        children.finish();
    }
    tx.finish()?;
    Ok(images)
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
        let query = list_query(&ImageListQuery::default(), 100, None, &admin);
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
        assert!(plan.contains("ix_images_deleted_created_id"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }
}
