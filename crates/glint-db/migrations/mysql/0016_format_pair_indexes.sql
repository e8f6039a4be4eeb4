-- The last pairs of a format filter and the other format as the sort key
-- (see migrations 12 and 14). An image may have one format without the
-- other only while it has no data, so by the other format ascending the
-- images without any formats (every queued one, a tenth of a cloud's
-- images or more) come first: `disk_format=qcow2&sort_key=container_format`
-- walked past all of them before the page began.
-- The change is one statement; run again after it was applied, it fails on
-- a duplicate index name, which the migrator counts as done.
ALTER TABLE images
    ADD INDEX ix_images_live_disk_format_container_format (deleted, sort_disk_format, sort_container_format, created_at, id),
    ADD INDEX ix_images_live_container_format_disk_format (deleted, sort_container_format, sort_disk_format, created_at, id);
