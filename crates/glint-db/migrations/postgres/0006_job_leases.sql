-- Leases on background jobs, one row per job a worker has claimed: which
-- kind of job (`scrub`: a pending delete), its key within the kind (the
-- image id), who holds it and until when unless renewed, how many attempts
-- failed and the last failure. A claim is taken over once it has expired
-- (or its holder is known to have died); a failed attempt leaves the row,
-- expired at once, for the next run. In a table of their own so that
-- renewals do not change the image's version. job_key has the collation of
-- images.id, which scrub queries join it with.
CREATE TABLE IF NOT EXISTS job_leases (
    kind VARCHAR(64) COLLATE "C" NOT NULL,
    job_key VARCHAR(255) COLLATE "C" NOT NULL,
    holder VARCHAR(255) COLLATE "C" NOT NULL,
    expires_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    PRIMARY KEY (kind, job_key)
);
