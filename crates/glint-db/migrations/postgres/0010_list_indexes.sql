-- Indexes for every list shape, at any catalogue size. Each sort key
-- has an index shaped (key, created_at, id), the order a list asks for once
-- the created_at and id tie-breakers are appended, so a page is read in
-- order and stops at its limit, starting at the marker. They leave deleted
-- rows out (partial indexes), which the list query excludes with the
-- literal `deleted = 0` their condition names. Nullable sort keys sort by
-- the value a NULL stands for; generated columns name those values so that
-- one query serves every dialect.
ALTER TABLE images ADD COLUMN IF NOT EXISTS sort_name VARCHAR(255) COLLATE "C" GENERATED ALWAYS AS (COALESCE(name, '')) STORED;
ALTER TABLE images ADD COLUMN IF NOT EXISTS sort_container_format VARCHAR(32) COLLATE "C" GENERATED ALWAYS AS (COALESCE(container_format, '')) STORED;
ALTER TABLE images ADD COLUMN IF NOT EXISTS sort_disk_format VARCHAR(32) COLLATE "C" GENERATED ALWAYS AS (COALESCE(disk_format, '')) STORED;
ALTER TABLE images ADD COLUMN IF NOT EXISTS sort_size BIGINT GENERATED ALWAYS AS (COALESCE(size, -1)) STORED;
CREATE INDEX IF NOT EXISTS ix_images_live_created ON images (created_at, id) WHERE deleted = 0;
CREATE INDEX IF NOT EXISTS ix_images_live_updated ON images (updated_at, created_at, id) WHERE deleted = 0;
CREATE INDEX IF NOT EXISTS ix_images_live_name ON images (sort_name, created_at, id) WHERE deleted = 0;
CREATE INDEX IF NOT EXISTS ix_images_live_status ON images (status, created_at, id) WHERE deleted = 0;
CREATE INDEX IF NOT EXISTS ix_images_live_container_format ON images (sort_container_format, created_at, id) WHERE deleted = 0;
CREATE INDEX IF NOT EXISTS ix_images_live_disk_format ON images (sort_disk_format, created_at, id) WHERE deleted = 0;
CREATE INDEX IF NOT EXISTS ix_images_live_size ON images (sort_size, created_at, id) WHERE deleted = 0;
CREATE INDEX IF NOT EXISTS ix_images_live_owner ON images (owner, created_at, id) WHERE deleted = 0;
CREATE INDEX IF NOT EXISTS ix_images_live_visibility ON images (visibility, created_at, id) WHERE deleted = 0;
-- Few images are hidden or protected: filters on them read these.
CREATE INDEX IF NOT EXISTS ix_images_live_hidden ON images (created_at, id) WHERE deleted = 0 AND os_hidden = 1;
CREATE INDEX IF NOT EXISTS ix_images_live_protected ON images (created_at, id) WHERE deleted = 0 AND protected = 1;
-- (deleted, created_at, id) goes: the live rows have their own index now,
-- and an equality on a leading `deleted` looks so selective to a planner
-- without statistics that it chose that index over every better one. The
-- purge, which reads deleted rows in deletion order, gets one of its own.
DROP INDEX IF EXISTS ix_images_deleted_created_id;
CREATE INDEX IF NOT EXISTS ix_images_purgeable ON images (deleted_at, id) WHERE deleted = 1;
-- Tag and property filters start from the rows that match. Property
-- values may be longer than a B-tree entry can hold: a hash index finds
-- them whatever their length.
CREATE INDEX IF NOT EXISTS ix_image_tags_value ON image_tags (value, image_id);
CREATE INDEX IF NOT EXISTS ix_image_properties_value ON image_properties USING hash (value);
