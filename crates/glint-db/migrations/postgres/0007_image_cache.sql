-- The image cache's records, as Glance's centralized_db driver keeps them
-- in the main database. Each node that caches images registers its
-- reference (worker_self_reference_url) once.
CREATE TABLE IF NOT EXISTS node_reference (
    node_reference_id BIGSERIAL PRIMARY KEY,
    node_reference_url VARCHAR(255) COLLATE "C" NOT NULL UNIQUE
);

-- One row per image file in a node's cache directory. The data file
-- itself lives on the node; the row carries what the cache API lists and
-- what pruning orders by (last_accessed), and the size and md5 of the data
-- cached, so that a node never serves a file whose image changed.
CREATE TABLE IF NOT EXISTS cached_images (
    id BIGSERIAL PRIMARY KEY,
    image_id VARCHAR(36) COLLATE "C" NOT NULL,
    last_accessed BIGINT NOT NULL,
    last_modified BIGINT NOT NULL,
    size BIGINT NOT NULL,
    hits BIGINT NOT NULL DEFAULT 0,
    checksum VARCHAR(32) COLLATE "C",
    node_reference_id BIGINT NOT NULL REFERENCES node_reference (node_reference_id),
    UNIQUE (image_id, node_reference_id)
);
CREATE INDEX IF NOT EXISTS ix_cached_images_node_accessed ON cached_images (node_reference_id, last_accessed);

-- Images queued for caching on a node (PUT /v2/cache/{id}), until its
-- prefetcher has cached them. A prefetcher claims a row with a lease
-- (holder, lease_expires), so that a row whose prefetcher died is taken
-- up again once the lease has expired.
CREATE TABLE IF NOT EXISTS cache_queue (
    node_reference_id BIGINT NOT NULL REFERENCES node_reference (node_reference_id),
    image_id VARCHAR(36) COLLATE "C" NOT NULL,
    queued_at BIGINT NOT NULL,
    holder VARCHAR(255) COLLATE "C",
    lease_expires BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (node_reference_id, image_id)
);
