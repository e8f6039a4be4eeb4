-- A tag's and a property's rows carry copies of their image's sort keys
-- (name, status, formats, size, update time; the creation time they carry
-- since schema versions 11 and 17), with one index per key shaped (tag or
-- property, key, created_at, image_id). A list filtered by a tag or
-- property and sorted by one of those keys reads its page along that
-- index instead of walking the key's order probing each image, or sorting
-- every image with the tag. The copies follow every change of the image
-- (they are rewritten with its rows). The rows of deleted images carry
-- none (they come first in each index, where the list skips them). A
-- property's indexes hold `short_value` (a value of up to 255
-- characters, schema version 13); none is by name: name, value and name
-- together are longer than an InnoDB index entry may be.
-- Each statement, run again after it was applied, fails on a duplicate
-- column or index name, which the migrator counts as done.
ALTER TABLE image_tags
    ADD COLUMN sort_name VARCHAR(255) CHARACTER SET utf8mb4 COLLATE {nopad_bin} NULL,
    ADD COLUMN status VARCHAR(30) NULL,
    ADD COLUMN sort_container_format VARCHAR(32) CHARACTER SET utf8mb4 COLLATE {nopad_bin} NULL,
    ADD COLUMN sort_disk_format VARCHAR(32) CHARACTER SET utf8mb4 COLLATE {nopad_bin} NULL,
    ADD COLUMN sort_size BIGINT NULL,
    ADD COLUMN updated_at BIGINT NULL;
ALTER TABLE image_properties
    ADD COLUMN sort_name VARCHAR(255) CHARACTER SET utf8mb4 COLLATE {nopad_bin} NULL,
    ADD COLUMN status VARCHAR(30) NULL,
    ADD COLUMN sort_container_format VARCHAR(32) CHARACTER SET utf8mb4 COLLATE {nopad_bin} NULL,
    ADD COLUMN sort_disk_format VARCHAR(32) CHARACTER SET utf8mb4 COLLATE {nopad_bin} NULL,
    ADD COLUMN sort_size BIGINT NULL,
    ADD COLUMN updated_at BIGINT NULL;
UPDATE image_tags JOIN images ON images.id = image_tags.image_id SET image_tags.sort_name = images.sort_name, image_tags.status = images.status, image_tags.sort_container_format = images.sort_container_format, image_tags.sort_disk_format = images.sort_disk_format, image_tags.sort_size = images.sort_size, image_tags.updated_at = images.updated_at WHERE image_tags.created_at IS NOT NULL;
UPDATE image_properties JOIN images ON images.id = image_properties.image_id SET image_properties.sort_name = images.sort_name, image_properties.status = images.status, image_properties.sort_container_format = images.sort_container_format, image_properties.sort_disk_format = images.sort_disk_format, image_properties.sort_size = images.sort_size, image_properties.updated_at = images.updated_at WHERE image_properties.created_at IS NOT NULL;
ALTER TABLE image_tags
    ADD INDEX ix_image_tags_value_name (value, sort_name, created_at, image_id),
    ADD INDEX ix_image_tags_value_status (value, status, created_at, image_id),
    ADD INDEX ix_image_tags_value_container_format (value, sort_container_format, created_at, image_id),
    ADD INDEX ix_image_tags_value_disk_format (value, sort_disk_format, created_at, image_id),
    ADD INDEX ix_image_tags_value_size (value, sort_size, created_at, image_id),
    ADD INDEX ix_image_tags_value_updated (value, updated_at, created_at, image_id);
ALTER TABLE image_properties
    ADD INDEX ix_image_properties_name_short_value_status (name, short_value, status, created_at, image_id),
    ADD INDEX ix_image_properties_name_short_value_container_format (name, short_value, sort_container_format, created_at, image_id),
    ADD INDEX ix_image_properties_name_short_value_disk_format (name, short_value, sort_disk_format, created_at, image_id),
    ADD INDEX ix_image_properties_name_short_value_size (name, short_value, sort_size, created_at, image_id),
    ADD INDEX ix_image_properties_name_short_value_updated (name, short_value, updated_at, created_at, image_id);
