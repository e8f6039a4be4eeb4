-- Deleted rows by deletion time, for `glint db purge` and
-- `purge-images-table`, which take the oldest first: SQLite and PostgreSQL
-- have had a partial index for it since version 10 (`WHERE deleted = 1`).
-- Without it MariaDB read every deleted row and sorted them for each batch
-- (9 s a batch with a million deleted rows).
ALTER TABLE images ADD INDEX ix_images_purgeable (deleted, deleted_at, id);
