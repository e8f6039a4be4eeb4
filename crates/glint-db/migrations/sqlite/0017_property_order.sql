-- A property's rows carry their image's creation time, as a tag's do
-- (schema version 11), and the rows of deleted images carry none. A list
-- counts a property's rows to choose how to read it: counted with the
-- rows of deleted images (kept until the purge), a property on 10,000 of
-- a million live images counted as 20,000, and its list walked every
-- image in order probing each for it (seconds where its images come last).
ALTER TABLE image_properties ADD COLUMN created_at BIGINT;
UPDATE image_properties SET created_at = (SELECT created_at FROM images WHERE images.id = image_properties.image_id AND images.deleted = 0) WHERE created_at IS NULL;
CREATE INDEX IF NOT EXISTS ix_image_properties_name_value_created ON image_properties (name, value, created_at, image_id);
-- The new index serves every lookup of a property by name and value.
DROP INDEX IF EXISTS ix_image_properties_name_value;
