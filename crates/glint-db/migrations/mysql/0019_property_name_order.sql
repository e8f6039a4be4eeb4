-- A property's rows in the order of their images' names (schema version
-- 18 left it out here: the property's name, its value and the image's
-- name together are longer than an InnoDB index entry may be). The name
-- and a value of up to 255 characters (`short_value`, version 13) are
-- held as the 16 bytes of the MD5 of name, a zero byte and value, NULL
-- for a longer value; the index on that, the name copy, the creation
-- time and the image id reads a property's page by name as the other
-- keys' indexes do. The list compares the name and value themselves too.
-- Run again after it was applied, the statement fails on the duplicate
-- column name, which the migrator counts as done.
ALTER TABLE image_properties
    ADD COLUMN name_value_md5 BINARY(16) GENERATED ALWAYS AS (IF(CHAR_LENGTH(value) <= 255, UNHEX(MD5(CONCAT(name, CHAR(0), value))), NULL)) STORED,
    ADD INDEX ix_image_properties_name_value_name (name_value_md5, sort_name, created_at, image_id);
