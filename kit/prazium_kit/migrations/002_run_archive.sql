-- Retention: a finished Run and its Tasks are copied here when the Run finishes,
-- so the REST API still lists and gets them after the operator prunes them from
-- the cluster (etcd, which would otherwise keep every Run ever made). body is the custom resource as stored, without
-- metadata.managedFields; the API renders it with the same views as a live one.
CREATE TABLE run_archive (
    namespace     TEXT        NOT NULL,
    run           TEXT        NOT NULL,
    project       TEXT        NOT NULL,
    run_number    INTEGER,
    phase         TEXT        NOT NULL,
    created_at    TIMESTAMPTZ,
    completed_at  TIMESTAMPTZ,
    body          JSONB       NOT NULL,
    archived_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Set when the operator deleted the Run from the cluster.
    pruned_at     TIMESTAMPTZ,
    PRIMARY KEY (namespace, run)
);
CREATE INDEX run_archive_by_project ON run_archive (namespace, project, run_number DESC);
CREATE INDEX run_archive_by_completed ON run_archive (completed_at);

CREATE TABLE task_archive (
    namespace  TEXT    NOT NULL,
    run        TEXT    NOT NULL,
    task       TEXT    NOT NULL,
    sequence   INTEGER,
    body       JSONB   NOT NULL,
    PRIMARY KEY (namespace, run, task),
    FOREIGN KEY (namespace, run) REFERENCES run_archive (namespace, run) ON DELETE CASCADE
);
