-- Initial schema (MySQL / MariaDB). DDL is not transactional here, so every
-- statement is idempotent and indexes are declared inside CREATE TABLE.
-- utf8mb4_bin makes text comparisons case-sensitive and ordering bytewise, as
-- on SQLite and PostgreSQL: tags "A" and "a" are distinct everywhere.
--
-- The default list order is served by (created_at, id) here, not by
-- (deleted, created_at, id) as on the other dialects: given the latter,
-- MariaDB prefers a `ref` lookup on `deleted` alone over the range
-- `deleted = 0 AND created_at <= marker`, and then reads every row above
-- the marker, so a page deep in the catalogue costs as much as all before it.
CREATE TABLE IF NOT EXISTS images (
    id CHAR(36) NOT NULL PRIMARY KEY,
    name VARCHAR(255),
    status VARCHAR(30) NOT NULL,
    visibility VARCHAR(20) NOT NULL,
    protected SMALLINT NOT NULL DEFAULT 0,
    os_hidden SMALLINT NOT NULL DEFAULT 0,
    checksum VARCHAR(32),
    os_hash_algo VARCHAR(64),
    os_hash_value VARCHAR(128),
    owner VARCHAR(255),
    size BIGINT,
    virtual_size BIGINT,
    container_format VARCHAR(32),
    disk_format VARCHAR(32),
    min_ram BIGINT NOT NULL DEFAULT 0,
    min_disk BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT,
    deleted SMALLINT NOT NULL DEFAULT 0,
    INDEX ix_images_created_id (created_at, id),
    INDEX ix_images_owner (owner),
    INDEX ix_images_visibility (visibility),
    INDEX ix_images_status (status),
    INDEX ix_images_checksum (checksum),
    INDEX ix_images_os_hash_value (os_hash_value),
    INDEX ix_images_name (name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE IF NOT EXISTS image_properties (
    image_id CHAR(36) NOT NULL,
    name VARCHAR(255) NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (image_id, name),
    INDEX ix_image_properties_name (name),
    CONSTRAINT fk_image_properties_image FOREIGN KEY (image_id) REFERENCES images (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE IF NOT EXISTS image_tags (
    image_id CHAR(36) NOT NULL,
    value VARCHAR(255) NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (image_id, value),
    CONSTRAINT fk_image_tags_image FOREIGN KEY (image_id) REFERENCES images (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE IF NOT EXISTS image_locations (
    image_id CHAR(36) NOT NULL,
    position INTEGER NOT NULL,
    url TEXT NOT NULL,
    metadata TEXT NOT NULL,
    status VARCHAR(30) NOT NULL,
    PRIMARY KEY (image_id, position),
    CONSTRAINT fk_image_locations_image FOREIGN KEY (image_id) REFERENCES images (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE IF NOT EXISTS image_members (
    image_id CHAR(36) NOT NULL,
    member VARCHAR(255) NOT NULL,
    status VARCHAR(20) NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted SMALLINT NOT NULL DEFAULT 0,
    PRIMARY KEY (image_id, member),
    INDEX ix_image_members_member (member),
    CONSTRAINT fk_image_members_image FOREIGN KEY (image_id) REFERENCES images (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
