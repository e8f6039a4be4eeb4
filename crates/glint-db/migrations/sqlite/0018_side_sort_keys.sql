-- A tag's and a property's rows carry copies of their image's sort keys
-- (name, status, formats, size, update time; the creation time they carry
-- since schema versions 11 and 17), with one index per key shaped (tag or
-- property, key, created_at, image_id). A list filtered by a tag or
-- property and sorted by one of those keys reads its page along that
-- index: by size, a tag on 1 % of a million images walked about 10,000
-- images in order probing each for it (30-45 ms), or sorted its 10,000
-- images where they all came last (0.2 s). The copies follow every change
-- of the image (they are rewritten with its rows). The rows of deleted
-- images carry none, and the indexes leave them out.
ALTER TABLE image_tags ADD COLUMN sort_name VARCHAR(255);
ALTER TABLE image_tags ADD COLUMN status VARCHAR(30);
ALTER TABLE image_tags ADD COLUMN sort_container_format VARCHAR(32);
ALTER TABLE image_tags ADD COLUMN sort_disk_format VARCHAR(32);
ALTER TABLE image_tags ADD COLUMN sort_size BIGINT;
ALTER TABLE image_tags ADD COLUMN updated_at BIGINT;
ALTER TABLE image_properties ADD COLUMN sort_name VARCHAR(255);
ALTER TABLE image_properties ADD COLUMN status VARCHAR(30);
ALTER TABLE image_properties ADD COLUMN sort_container_format VARCHAR(32);
ALTER TABLE image_properties ADD COLUMN sort_disk_format VARCHAR(32);
ALTER TABLE image_properties ADD COLUMN sort_size BIGINT;
ALTER TABLE image_properties ADD COLUMN updated_at BIGINT;
UPDATE image_tags SET (sort_name, status, sort_container_format, sort_disk_format, sort_size, updated_at) = (SELECT sort_name, status, sort_container_format, sort_disk_format, sort_size, updated_at FROM images WHERE images.id = image_tags.image_id) WHERE created_at IS NOT NULL;
UPDATE image_properties SET (sort_name, status, sort_container_format, sort_disk_format, sort_size, updated_at) = (SELECT sort_name, status, sort_container_format, sort_disk_format, sort_size, updated_at FROM images WHERE images.id = image_properties.image_id) WHERE created_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_image_tags_value_name ON image_tags (value, sort_name, created_at, image_id) WHERE created_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_image_tags_value_status ON image_tags (value, status, created_at, image_id) WHERE created_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_image_tags_value_container_format ON image_tags (value, sort_container_format, created_at, image_id) WHERE created_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_image_tags_value_disk_format ON image_tags (value, sort_disk_format, created_at, image_id) WHERE created_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_image_tags_value_size ON image_tags (value, sort_size, created_at, image_id) WHERE created_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_image_tags_value_updated ON image_tags (value, updated_at, created_at, image_id) WHERE created_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_image_properties_name_value_name ON image_properties (name, value, sort_name, created_at, image_id) WHERE created_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_image_properties_name_value_status ON image_properties (name, value, status, created_at, image_id) WHERE created_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_image_properties_name_value_container_format ON image_properties (name, value, sort_container_format, created_at, image_id) WHERE created_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_image_properties_name_value_disk_format ON image_properties (name, value, sort_disk_format, created_at, image_id) WHERE created_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_image_properties_name_value_size ON image_properties (name, value, sort_size, created_at, image_id) WHERE created_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS ix_image_properties_name_value_updated ON image_properties (name, value, updated_at, created_at, image_id) WHERE created_at IS NOT NULL;
