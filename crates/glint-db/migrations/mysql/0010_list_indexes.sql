-- Indexes for every list shape, at any catalogue size. Each sort key
-- has an index shaped (key, created_at, id), the order a list asks for once
-- the created_at and id tie-breakers are appended, so a page is read in
-- order and stops at its limit, starting at the marker. There are no
-- partial indexes here, and a leading `deleted` makes MariaDB look rows up
-- by `deleted` alone (see 0001): deleted rows stay in and are skipped.
-- The single-column indexes on owner, visibility and status go: the new
-- ones lead with those columns. Nullable sort keys sort by the value a
-- NULL stands for; generated columns name those values (MariaDB indexes
-- no expressions). The whole change to images is one statement, which InnoDB applies entirely or not at all;
-- run again after it was applied, it fails on a duplicate column, which
-- the migrator counts as done.
ALTER TABLE images
    ADD COLUMN sort_name VARCHAR(255) CHARACTER SET utf8mb4 COLLATE {nopad_bin} GENERATED ALWAYS AS (COALESCE(name, '')) STORED,
    ADD COLUMN sort_container_format VARCHAR(32) CHARACTER SET utf8mb4 COLLATE {nopad_bin} GENERATED ALWAYS AS (COALESCE(container_format, '')) STORED,
    ADD COLUMN sort_disk_format VARCHAR(32) CHARACTER SET utf8mb4 COLLATE {nopad_bin} GENERATED ALWAYS AS (COALESCE(disk_format, '')) STORED,
    ADD COLUMN sort_size BIGINT GENERATED ALWAYS AS (COALESCE(size, -1)) STORED,
    ADD INDEX ix_images_live_updated (updated_at, created_at, id),
    ADD INDEX ix_images_live_name (sort_name, created_at, id),
    ADD INDEX ix_images_live_status (status, created_at, id),
    ADD INDEX ix_images_live_container_format (sort_container_format, created_at, id),
    ADD INDEX ix_images_live_disk_format (sort_disk_format, created_at, id),
    ADD INDEX ix_images_live_size (sort_size, created_at, id),
    ADD INDEX ix_images_live_owner (owner, created_at, id),
    ADD INDEX ix_images_live_visibility (visibility, created_at, id),
    DROP INDEX ix_images_owner,
    DROP INDEX ix_images_visibility,
    DROP INDEX ix_images_status;
-- Tag and property filters start from the rows that match. A repeated run
-- fails on the duplicate index name, which the migrator counts as done.
ALTER TABLE image_tags ADD INDEX ix_image_tags_value (value, image_id);
ALTER TABLE image_properties ADD INDEX ix_image_properties_name_value (name, value(255));
