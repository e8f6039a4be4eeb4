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
    updated_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_metadef_namespaces_created ON metadef_namespaces (created_at, namespace);
CREATE INDEX IF NOT EXISTS ix_metadef_namespaces_updated ON metadef_namespaces (updated_at, namespace);
CREATE INDEX IF NOT EXISTS ix_metadef_namespaces_owner ON metadef_namespaces (owner);

CREATE TABLE IF NOT EXISTS metadef_entries (
    namespace_id CHAR(36) NOT NULL,
    kind VARCHAR(16) NOT NULL,
    name_key VARCHAR(80) NOT NULL,
    name VARCHAR(80) NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (namespace_id, kind, name_key)
);

CREATE TABLE IF NOT EXISTS metadef_resource_types (
    name VARCHAR(80) NOT NULL PRIMARY KEY,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS metadef_namespace_resource_types (
    namespace_id CHAR(36) NOT NULL,
    resource_type VARCHAR(80) NOT NULL,
    prefix VARCHAR(80),
    properties_target VARCHAR(80),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (namespace_id, resource_type)
);
CREATE INDEX IF NOT EXISTS ix_metadef_ns_rt_type ON metadef_namespace_resource_types (resource_type);
