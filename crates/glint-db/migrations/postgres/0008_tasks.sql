-- Tasks, as Glance keeps them (its tasks and task_info tables in one):
-- what an import (or a legacy task) is, who asked for it, how it stands
-- and, once finished, until when it is shown (expires_at). Pending
-- imports are claimed by workers through job_leases (kind `import`).
CREATE TABLE IF NOT EXISTS tasks (
    id VARCHAR(36) COLLATE "C" NOT NULL PRIMARY KEY,
    type VARCHAR(30) COLLATE "C" NOT NULL,
    status VARCHAR(30) COLLATE "C" NOT NULL,
    owner VARCHAR(255) COLLATE "C",
    input TEXT,
    result TEXT,
    message TEXT NOT NULL,
    expires_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    image_id VARCHAR(36) COLLATE "C",
    request_id VARCHAR(64),
    user_id VARCHAR(64)
);
CREATE INDEX IF NOT EXISTS ix_tasks_image_id ON tasks (image_id);
CREATE INDEX IF NOT EXISTS ix_tasks_owner_created ON tasks (owner, created_at);
CREATE INDEX IF NOT EXISTS ix_tasks_status ON tasks (status);
