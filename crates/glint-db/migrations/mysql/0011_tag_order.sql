-- A tag's rows carry their image's creation time (which never changes), so
-- that a list filtered by a tag walks that tag's index in the default
-- order (newest first) and stops after its page, instead of walking every
-- image and probing each for the tag.
ALTER TABLE image_tags ADD COLUMN created_at BIGINT NULL;
UPDATE image_tags JOIN images ON images.id = image_tags.image_id SET image_tags.created_at = images.created_at WHERE image_tags.created_at IS NULL;
-- The new index serves every lookup of a tag by value. A repeated run
-- fails on the duplicate index name, which the migrator counts as done.
ALTER TABLE image_tags ADD INDEX ix_image_tags_value_created (value, created_at, image_id), DROP INDEX ix_image_tags_value;
