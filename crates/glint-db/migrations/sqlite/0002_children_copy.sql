-- A copy of each image's children (extra properties, tags in order,
-- locations) as one JSON document, written in the same transaction as the
-- child rows, so that reading images needs no second query. Rows written
-- before this version hold NULL; their children are read from the child
-- tables, which stay the reference for list filters.
ALTER TABLE images ADD COLUMN children TEXT;
