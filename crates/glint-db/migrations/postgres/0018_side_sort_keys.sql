-- A tag's and a property's rows carry copies of their image's sort keys
-- (name, status, formats, size, update time; the creation time they carry
-- since schema versions 11 and 17), with one index per key shaped (tag or
-- property, key, created_at, image_id). A list filtered by a tag or
-- property and sorted by one of those keys reads its page along that
-- index instead of walking the key's order probing each image, or sorting
-- every image with the tag. The copies follow every change of the image
-- (they are rewritten with its rows). The rows of deleted images carry
-- none, and the indexes leave them out. A property's index holds the
-- value's MD5, as in schema version 17.
ALTER TABLE image_tags
    ADD COLUMN IF NOT EXISTS sort_name VARCHAR(255) COLLATE "C",
    ADD COLUMN IF NOT EXISTS status VARCHAR(30) COLLATE "C",
    ADD COLUMN IF NOT EXISTS sort_container_format VARCHAR(32) COLLATE "C",
    ADD COLUMN IF NOT EXISTS sort_disk_format VARCHAR(32) COLLATE "C",
    ADD COLUMN IF NOT EXISTS sort_size BIGINT,
    ADD COLUMN IF NOT EXISTS updated_at BIGINT;
ALTER TABLE image_properties
    ADD COLUMN IF NOT EXISTS sort_name VARCHAR(255) COLLATE "C",
    ADD COLUMN IF NOT EXISTS status VARCHAR(30) COLLATE "C",
    ADD COLUMN IF NOT EXISTS sort_container_format VARCHAR(32) COLLATE "C",
    ADD COLUMN IF NOT EXISTS sort_disk_format VARCHAR(32) COLLATE "C",
    ADD COLUMN IF NOT EXISTS sort_size BIGINT,
    ADD COLUMN IF NOT EXISTS updated_at BIGINT;
UPDATE image_tags SET sort_name = images.sort_name, status = images.status, sort_container_format = images.sort_container_format, sort_disk_format = images.sort_disk_format, sort_size = images.sort_size, updated_at = images.updated_at FROM images WHERE images.id = image_tags.image_id AND image_tags.created_at IS NOT NULL;
UPDATE image_properties SET sort_name = images.sort_name, status = images.status, sort_container_format = images.sort_container_format, sort_disk_format = images.sort_disk_format, sort_size = images.sort_size, updated_at = images.updated_at FROM images WHERE images.id = image_properties.image_id AND image_properties.created_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_image_tags_value_name ON image_tags (value, sort_name, created_at, image_id) WHERE created_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_image_tags_value_status ON image_tags (value, status, created_at, image_id) WHERE created_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_image_tags_value_container_format ON image_tags (value, sort_container_format, created_at, image_id) WHERE created_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_image_tags_value_disk_format ON image_tags (value, sort_disk_format, created_at, image_id) WHERE created_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_image_tags_value_size ON image_tags (value, sort_size, created_at, image_id) WHERE created_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_image_tags_value_updated ON image_tags (value, updated_at, created_at, image_id) WHERE created_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_image_properties_name_md5_name ON image_properties (name, md5(value), sort_name, created_at, image_id) WHERE created_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_image_properties_name_md5_status ON image_properties (name, md5(value), status, created_at, image_id) WHERE created_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_image_properties_name_md5_container_format ON image_properties (name, md5(value), sort_container_format, created_at, image_id) WHERE created_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_image_properties_name_md5_disk_format ON image_properties (name, md5(value), sort_disk_format, created_at, image_id) WHERE created_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_image_properties_name_md5_size ON image_properties (name, md5(value), sort_size, created_at, image_id) WHERE created_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_image_properties_name_md5_updated ON image_properties (name, md5(value), updated_at, created_at, image_id) WHERE created_at IS NOT NULL;
