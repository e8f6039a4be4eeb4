-- Indexes for a filter held to one value whose rows lie far apart in the
-- order a list asks for. Images without data (queued ones) have no size,
-- formats or checksum: by size they all come last, or first, so a list of
-- queued images by size walked the size index past every active image
-- before it found one, and active images by size ascending walked past
-- every queued one. An index shaped (deleted, filter column, sort key,
-- created_at, id) reads such a page in order from its first row. They
-- cover the status filter sorted by size and by name (`openstack image
-- list --status active --sort name`), and the disk format filter sorted by
-- size; other pairs are walked along the sort key's own index.
-- The change is one statement; run again after it was applied, it fails on
-- a duplicate index name, which the migrator counts as done.
ALTER TABLE images
    ADD INDEX ix_images_live_status_size (deleted, status, sort_size, created_at, id),
    ADD INDEX ix_images_live_status_name (deleted, status, sort_name, created_at, id),
    ADD INDEX ix_images_live_disk_format_size (deleted, sort_disk_format, sort_size, created_at, id);
