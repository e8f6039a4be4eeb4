-- The metadata definitions catalogue (/v2/metadefs). A namespace is keyed
-- by a generated id, so that renaming it (PUT) touches one row. Its
-- properties, objects and tags are rows of metadef_entries (kind
-- 'property', 'object' or 'tag'), each holding its definition as JSON text;
-- name_key is the name as uniqueness compares it (tags: lower case, as
-- Glance's tag names are case-insensitive).
CREATE TABLE IF NOT EXISTS metadef_namespaces (
    id CHAR(36) NOT NULL PRIMARY KEY,
    namespace VARCHAR(80) NOT NULL UNIQUE,
    display_name VARCHAR(80),
    description TEXT,
    visibility VARCHAR(32) NOT NULL,
    protected SMALLINT NOT NULL,
    owner VARCHAR(255),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    INDEX ix_metadef_namespaces_created (created_at, namespace),
    INDEX ix_metadef_namespaces_updated (updated_at, namespace),
    INDEX ix_metadef_namespaces_owner (owner)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = {nopad_bin};

CREATE TABLE IF NOT EXISTS metadef_entries (
    namespace_id CHAR(36) NOT NULL,
    kind VARCHAR(16) NOT NULL,
    name_key VARCHAR(80) NOT NULL,
    name VARCHAR(80) NOT NULL,
    body MEDIUMTEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (namespace_id, kind, name_key)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = {nopad_bin};

CREATE TABLE IF NOT EXISTS metadef_resource_types (
    name VARCHAR(80) NOT NULL PRIMARY KEY,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = {nopad_bin};

CREATE TABLE IF NOT EXISTS metadef_namespace_resource_types (
    namespace_id CHAR(36) NOT NULL,
    resource_type VARCHAR(80) NOT NULL,
    prefix VARCHAR(80),
    properties_target VARCHAR(80),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (namespace_id, resource_type),
    INDEX ix_metadef_ns_rt_type (resource_type)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = {nopad_bin};
