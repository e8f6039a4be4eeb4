-- Exact text: utf8mb4_bin is a PAD SPACE collation, under which values that
-- differ only by trailing spaces are equal ('a' = 'a '): two such tags were
-- one key, and the filter name=a matched an image named 'a '. Every text
-- column moves to the binary NO PAD collation, which compares bytes as
-- SQLite and PostgreSQL do, and so does every table's default. The migrator
-- replaces {nopad_bin} with the server's name for it: utf8mb4_nopad_bin on
-- MariaDB, utf8mb4_0900_bin on MySQL 8. Image ids keep utf8mb4_bin: they
-- are canonical UUIDs, and the foreign keys referring to them would forbid
-- the change. No existing values collide: the old collation let no two keys
-- differ only by trailing spaces. Repeating a statement is harmless.
ALTER TABLE images
    DEFAULT CHARACTER SET utf8mb4 COLLATE {nopad_bin},
    MODIFY name VARCHAR(255) CHARACTER SET utf8mb4 COLLATE {nopad_bin} NULL,
    MODIFY status VARCHAR(30) CHARACTER SET utf8mb4 COLLATE {nopad_bin} NOT NULL,
    MODIFY visibility VARCHAR(20) CHARACTER SET utf8mb4 COLLATE {nopad_bin} NOT NULL,
    MODIFY checksum VARCHAR(32) CHARACTER SET utf8mb4 COLLATE {nopad_bin} NULL,
    MODIFY os_hash_algo VARCHAR(64) CHARACTER SET utf8mb4 COLLATE {nopad_bin} NULL,
    MODIFY os_hash_value VARCHAR(128) CHARACTER SET utf8mb4 COLLATE {nopad_bin} NULL,
    MODIFY owner VARCHAR(255) CHARACTER SET utf8mb4 COLLATE {nopad_bin} NULL,
    MODIFY container_format VARCHAR(32) CHARACTER SET utf8mb4 COLLATE {nopad_bin} NULL,
    MODIFY disk_format VARCHAR(32) CHARACTER SET utf8mb4 COLLATE {nopad_bin} NULL,
    MODIFY children LONGTEXT CHARACTER SET utf8mb4 COLLATE {nopad_bin} NULL;
ALTER TABLE image_properties
    DEFAULT CHARACTER SET utf8mb4 COLLATE {nopad_bin},
    MODIFY name VARCHAR(255) CHARACTER SET utf8mb4 COLLATE {nopad_bin} NOT NULL,
    MODIFY value TEXT CHARACTER SET utf8mb4 COLLATE {nopad_bin} NOT NULL;
ALTER TABLE image_tags
    DEFAULT CHARACTER SET utf8mb4 COLLATE {nopad_bin},
    MODIFY value VARCHAR(255) CHARACTER SET utf8mb4 COLLATE {nopad_bin} NOT NULL;
ALTER TABLE image_locations
    DEFAULT CHARACTER SET utf8mb4 COLLATE {nopad_bin},
    MODIFY url TEXT CHARACTER SET utf8mb4 COLLATE {nopad_bin} NOT NULL,
    MODIFY metadata TEXT CHARACTER SET utf8mb4 COLLATE {nopad_bin} NOT NULL,
    MODIFY status VARCHAR(30) CHARACTER SET utf8mb4 COLLATE {nopad_bin} NOT NULL;
ALTER TABLE image_members
    DEFAULT CHARACTER SET utf8mb4 COLLATE {nopad_bin},
    MODIFY member VARCHAR(255) CHARACTER SET utf8mb4 COLLATE {nopad_bin} NOT NULL,
    MODIFY status VARCHAR(20) CHARACTER SET utf8mb4 COLLATE {nopad_bin} NOT NULL;
