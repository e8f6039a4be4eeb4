-- A tag's rows carry their image's creation time (which never changes), so
-- that a list filtered by a tag walks that tag's index in the default
-- order (newest first) and stops after its page, instead of walking every
-- image and probing each for the tag. The rows of deleted images carry
-- none: they stay out of that order until they are purged.
ALTER TABLE image_tags ADD COLUMN IF NOT EXISTS created_at BIGINT;
UPDATE image_tags SET created_at = images.created_at FROM images WHERE images.id = image_tags.image_id AND images.deleted = 0 AND image_tags.created_at IS NULL;
CREATE INDEX IF NOT EXISTS ix_image_tags_value_created ON image_tags (value, created_at, image_id);
-- The new index serves every lookup of a tag by value.
DROP INDEX IF EXISTS ix_image_tags_value;
