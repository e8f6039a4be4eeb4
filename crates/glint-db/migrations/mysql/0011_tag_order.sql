-- A tag's rows carry their image's creation time (which never changes), so
-- that a list filtered by a tag walks that tag's index in the default
-- order (newest first) and stops after its page, instead of walking every
-- image and probing each for the tag. The rows of deleted images carry
-- none: they stay out of that order until they are purged.
ALTER TABLE image_tags ADD COLUMN created_at BIGINT NULL;
UPDATE image_tags JOIN images ON images.id = image_tags.image_id SET image_tags.created_at = images.created_at WHERE images.deleted = 0 AND image_tags.created_at IS NULL;
-- The new index serves every lookup of a tag by value. A repeated run
-- fails on the duplicate index name, which the migrator counts as done.
ALTER TABLE image_tags ADD INDEX ix_image_tags_value_created (value, created_at, image_id), DROP INDEX ix_image_tags_value;
-- MariaDB has no partial indexes: the list indexes held deleted rows, and a
-- walk skipped them one table read each, which took seconds where the
-- newest images were mostly deleted ones. Each index now leads with
-- `deleted`, which the list query fixes with an equality: the walk reads
-- live rows only, in the same order (`sort_key=id` gets one of its own,
-- and the hidden and protected flags, which the other databases index
-- partially, get theirs).
-- The whole change is one statement; run again after it was applied, it
-- fails on the duplicate name of the new index, which the migrator counts
-- as done.
ALTER TABLE images
    DROP INDEX ix_images_created_id, ADD INDEX ix_images_created_id (deleted, created_at, id),
    DROP INDEX ix_images_live_updated, ADD INDEX ix_images_live_updated (deleted, updated_at, created_at, id),
    DROP INDEX ix_images_live_name, ADD INDEX ix_images_live_name (deleted, sort_name, created_at, id),
    DROP INDEX ix_images_live_status, ADD INDEX ix_images_live_status (deleted, status, created_at, id),
    DROP INDEX ix_images_live_container_format, ADD INDEX ix_images_live_container_format (deleted, sort_container_format, created_at, id),
    DROP INDEX ix_images_live_disk_format, ADD INDEX ix_images_live_disk_format (deleted, sort_disk_format, created_at, id),
    DROP INDEX ix_images_live_size, ADD INDEX ix_images_live_size (deleted, sort_size, created_at, id),
    DROP INDEX ix_images_live_owner, ADD INDEX ix_images_live_owner (deleted, owner, created_at, id),
    DROP INDEX ix_images_live_visibility, ADD INDEX ix_images_live_visibility (deleted, visibility, created_at, id),
    ADD INDEX ix_images_live_id (deleted, id),
    ADD INDEX ix_images_live_hidden (deleted, os_hidden, created_at, id),
    ADD INDEX ix_images_live_protected (deleted, protected, created_at, id);
