-- The children copy (version 2) for rows written before it existed, built
-- from the child tables, so that every image row holds its copy and reads
-- need nothing else. Readers decode it with the writer's own format:
-- {"properties": {name: value}, "tags": [in position order],
--  "locations": [{"url", "metadata", "status"} in position order]}.
-- json() marks each part as JSON, so that it is nested rather than quoted.
UPDATE images SET children = json_object(
    'properties', json((SELECT json_group_object(p.name, p.value)
        FROM image_properties p WHERE p.image_id = images.id)),
    'tags', json((SELECT json_group_array(t.value ORDER BY t.position)
        FROM image_tags t WHERE t.image_id = images.id)),
    'locations', json((SELECT json_group_array(json_object(
            'url', l.url,
            'metadata', json(COALESCE(NULLIF(l.metadata, ''), '{}')),
            'status', l.status) ORDER BY l.position)
        FROM image_locations l WHERE l.image_id = images.id))
) WHERE children IS NULL;
