-- The children copy (version 2) for rows written before it existed, built
-- from the child tables, so that every image row holds its copy and reads
-- need nothing else. Readers decode it with the writer's own format:
-- {"properties": {name: value}, "tags": [in position order],
--  "locations": [{"url", "metadata", "status"} in position order]}.
UPDATE images SET children = CAST(json_build_object(
    'properties', COALESCE((SELECT json_object_agg(p.name, p.value)
        FROM image_properties p WHERE p.image_id = images.id), CAST('{}' AS json)),
    'tags', COALESCE((SELECT json_agg(t.value ORDER BY t.position)
        FROM image_tags t WHERE t.image_id = images.id), CAST('[]' AS json)),
    'locations', COALESCE((SELECT json_agg(json_build_object(
            'url', l.url,
            'metadata', CAST(COALESCE(NULLIF(l.metadata, ''), '{}') AS json),
            'status', l.status) ORDER BY l.position)
        FROM image_locations l WHERE l.image_id = images.id), CAST('[]' AS json))
) AS TEXT) WHERE children IS NULL;
