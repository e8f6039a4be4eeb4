-- Initial schema (PostgreSQL). Ids are VARCHAR rather than CHAR: bpchar
-- compared with a text parameter would bypass the index. Sortable text
-- columns use the "C" collation so lists order bytewise, as on SQLite and
-- MySQL (utf8mb4_bin), whatever the database's locale.
CREATE TABLE IF NOT EXISTS images (
    id VARCHAR(36) COLLATE "C" NOT NULL PRIMARY KEY,
    name VARCHAR(255) COLLATE "C",
    status VARCHAR(30) COLLATE "C" NOT NULL,
    visibility VARCHAR(20) COLLATE "C" NOT NULL,
    protected SMALLINT NOT NULL DEFAULT 0,
    os_hidden SMALLINT NOT NULL DEFAULT 0,
    checksum VARCHAR(32) COLLATE "C",
    os_hash_algo VARCHAR(64) COLLATE "C",
    os_hash_value VARCHAR(128) COLLATE "C",
    owner VARCHAR(255) COLLATE "C",
    size BIGINT,
    virtual_size BIGINT,
    container_format VARCHAR(32) COLLATE "C",
    disk_format VARCHAR(32) COLLATE "C",
    min_ram BIGINT NOT NULL DEFAULT 0,
    min_disk BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT,
    deleted SMALLINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ix_images_deleted_created_id ON images (deleted, created_at, id);
CREATE INDEX IF NOT EXISTS ix_images_owner ON images (owner);
CREATE INDEX IF NOT EXISTS ix_images_visibility ON images (visibility);
CREATE INDEX IF NOT EXISTS ix_images_status ON images (status);
CREATE INDEX IF NOT EXISTS ix_images_checksum ON images (checksum);
CREATE INDEX IF NOT EXISTS ix_images_os_hash_value ON images (os_hash_value);
CREATE INDEX IF NOT EXISTS ix_images_name ON images (name);

CREATE TABLE IF NOT EXISTS image_properties (
    image_id VARCHAR(36) COLLATE "C" NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    name VARCHAR(255) COLLATE "C" NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (image_id, name)
);
CREATE INDEX IF NOT EXISTS ix_image_properties_name ON image_properties (name);

CREATE TABLE IF NOT EXISTS image_tags (
    image_id VARCHAR(36) COLLATE "C" NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    value VARCHAR(255) COLLATE "C" NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (image_id, value)
);

CREATE TABLE IF NOT EXISTS image_locations (
    image_id VARCHAR(36) COLLATE "C" NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    url TEXT NOT NULL,
    metadata TEXT NOT NULL,
    status VARCHAR(30) NOT NULL,
    PRIMARY KEY (image_id, position)
);

CREATE TABLE IF NOT EXISTS image_members (
    image_id VARCHAR(36) COLLATE "C" NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    member VARCHAR(255) COLLATE "C" NOT NULL,
    status VARCHAR(20) NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted SMALLINT NOT NULL DEFAULT 0,
    PRIMARY KEY (image_id, member)
);
CREATE INDEX IF NOT EXISTS ix_image_members_member ON image_members (member);
