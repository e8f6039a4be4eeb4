-- A property's rows carry their image's creation time, as a tag's do
-- (schema version 11), and the rows of deleted images carry none. A list
-- counts a property's rows to choose how to read it: counted with the
-- rows of deleted images (kept until the purge), a property on 10,000 of
-- a million live images counted as 20,000, and its list walked every
-- image in order probing each for it (seconds where its images come last).
-- Its rows are counted through the hash index on the value, which reads
-- each row: the new column is checked there.
ALTER TABLE image_properties ADD COLUMN IF NOT EXISTS created_at BIGINT;
UPDATE image_properties SET created_at = images.created_at FROM images WHERE images.id = image_properties.image_id AND images.deleted = 0 AND image_properties.created_at IS NULL;
-- In the default order a property's rows lead the list as a tag's do,
-- newest first. A B-tree entry cannot hold every value: this index holds
-- the value's MD5, and the list compares the value too.
CREATE INDEX IF NOT EXISTS ix_image_properties_name_md5_created ON image_properties (name, md5(value), created_at, image_id);
