-- Row versions: every save of an image bumps images.version and is
-- compare-and-set on the version its writer read, so a concurrent change
-- is never silently overwritten.
ALTER TABLE images ADD COLUMN version BIGINT NOT NULL DEFAULT 0;

-- Upload leases, one row per image in `saving`: who writes its data, until
-- when the lease holds unless renewed, and the bytes reserved against the
-- uploading project's storage quota (NULL when the size is unknown). In a
-- table of their own so that renewals do not change the image's version.
CREATE TABLE IF NOT EXISTS image_uploads (
    image_id CHAR(36) NOT NULL PRIMARY KEY REFERENCES images (id) ON DELETE CASCADE,
    holder VARCHAR(255) NOT NULL,
    expires_at BIGINT NOT NULL,
    project VARCHAR(255),
    reserved BIGINT
);
CREATE INDEX IF NOT EXISTS ix_image_uploads_project ON image_uploads (project);

-- One row per project whose storage quota was checked: locked while a
-- quota decision is made, so that concurrent uploads decide one at a time.
CREATE TABLE IF NOT EXISTS project_locks (
    project VARCHAR(255) NOT NULL PRIMARY KEY
);
