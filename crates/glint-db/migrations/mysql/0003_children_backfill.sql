-- The children copy (version 2) for rows written before it existed, built
-- from the child tables, so that every image row holds its copy and reads
-- need nothing else. Readers decode it with the writer's own format:
-- {"properties": {name: value}, "tags": [in position order],
--  "locations": [{"url", "metadata", "status"} in position order]}.
-- Built as text (JSON_QUOTE escapes each string): MariaDB's JSON functions
-- quote a nested document coming from a subquery instead of nesting it.
-- GROUP_CONCAT is not cut short: every connection raises its limit to 1 GiB.
UPDATE images SET children = CONCAT(
    '{"properties":{',
    COALESCE((SELECT GROUP_CONCAT(CONCAT(JSON_QUOTE(p.name), ':', JSON_QUOTE(p.value))
            ORDER BY p.name SEPARATOR ',')
        FROM image_properties p WHERE p.image_id = images.id), ''),
    '},"tags":[',
    COALESCE((SELECT GROUP_CONCAT(JSON_QUOTE(t.value) ORDER BY t.position SEPARATOR ',')
        FROM image_tags t WHERE t.image_id = images.id), ''),
    '],"locations":[',
    COALESCE((SELECT GROUP_CONCAT(CONCAT(
            '{"url":', JSON_QUOTE(l.url),
            ',"metadata":', COALESCE(NULLIF(l.metadata, ''), '{}'),
            ',"status":', JSON_QUOTE(l.status), '}') ORDER BY l.position SEPARATOR ',')
        FROM image_locations l WHERE l.image_id = images.id), ''),
    ']}'
) WHERE children IS NULL;
