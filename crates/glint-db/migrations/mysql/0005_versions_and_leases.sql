-- Row versions: every save of an image bumps images.version and is
-- compare-and-set on the version its writer read, so a concurrent change
-- is never silently overwritten. (A crash may leave the column without the
-- version record; the migrator counts "duplicate column" as done.)
ALTER TABLE images ADD COLUMN version BIGINT NOT NULL DEFAULT 0;

-- Upload leases, one row per image in `saving`: who writes its data, until
-- when the lease holds unless renewed, and the bytes reserved against the
-- uploading project's storage quota (NULL when the size is unknown). In a
-- table of their own so that renewals do not change the image's version.
-- image_id has the collation of images.id, as its foreign key requires.
CREATE TABLE IF NOT EXISTS image_uploads (
    image_id CHAR(36) COLLATE utf8mb4_bin NOT NULL PRIMARY KEY,
    holder VARCHAR(255) NOT NULL,
    expires_at BIGINT NOT NULL,
    project VARCHAR(255),
    reserved BIGINT,
    INDEX ix_image_uploads_project (project),
    CONSTRAINT fk_image_uploads_image FOREIGN KEY (image_id) REFERENCES images (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = {nopad_bin};

-- One row per project whose storage quota was checked: locked while a
-- quota decision is made, so that concurrent uploads decide one at a time.
CREATE TABLE IF NOT EXISTS project_locks (
    project VARCHAR(255) NOT NULL PRIMARY KEY
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = {nopad_bin};
