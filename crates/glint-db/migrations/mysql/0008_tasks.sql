-- Tasks, as Glance keeps them (its tasks and task_info tables in one):
-- what an import (or a legacy task) is, who asked for it, how it stands
-- and, once finished, until when it is shown (expires_at). Pending
-- imports are claimed by workers through job_leases (kind `import`).
CREATE TABLE IF NOT EXISTS tasks (
    id CHAR(36) NOT NULL PRIMARY KEY,
    type VARCHAR(30) NOT NULL,
    status VARCHAR(30) NOT NULL,
    owner VARCHAR(255),
    input TEXT,
    result TEXT,
    message TEXT NOT NULL,
    expires_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    image_id CHAR(36),
    request_id VARCHAR(64),
    user_id VARCHAR(64),
    INDEX ix_tasks_image_id (image_id),
    INDEX ix_tasks_owner_created (owner, created_at),
    INDEX ix_tasks_status (status)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = {nopad_bin};
