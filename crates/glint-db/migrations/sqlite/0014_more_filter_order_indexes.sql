-- Three more pairs of a filter held to one value and a sort key (see
-- migration 12): images without data have no formats and no size, so by
-- either format ascending they all come first, and active images by
-- disk or container format walked past every queued one before the page
-- began; images of one container format by size ascending likewise.
-- Pairs left to the sort key's own index: the disk format by container
-- format and the reverse (both are set together, or neither).
CREATE INDEX IF NOT EXISTS ix_images_live_status_disk_format ON images (status, sort_disk_format, created_at, id) WHERE deleted = 0;
CREATE INDEX IF NOT EXISTS ix_images_live_status_container_format ON images (status, sort_container_format, created_at, id) WHERE deleted = 0;
CREATE INDEX IF NOT EXISTS ix_images_live_container_format_size ON images (sort_container_format, sort_size, created_at, id) WHERE deleted = 0;
