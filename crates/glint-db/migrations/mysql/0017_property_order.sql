-- A property's rows carry their image's creation time, as a tag's do
-- (schema version 11), and the rows of deleted images carry none. A list
-- counts a property's rows to choose how to read it: counted with the
-- rows of deleted images (kept until the purge), a property on 10,000 of
-- a million live images counted as 20,000, and its list walked every
-- image in order probing each for it (seconds where its images come last).
ALTER TABLE image_properties ADD COLUMN created_at BIGINT NULL;
UPDATE image_properties JOIN images ON images.id = image_properties.image_id SET image_properties.created_at = images.created_at WHERE images.deleted = 0 AND image_properties.created_at IS NULL;
-- A value of up to 255 characters is counted from this index alone (see
-- schema version 13). A repeated run fails on the duplicate index name,
-- which the migrator counts as done.
ALTER TABLE image_properties ADD INDEX ix_image_properties_name_short_value_created (name, short_value, created_at, image_id), DROP INDEX ix_image_properties_name_short_value;
