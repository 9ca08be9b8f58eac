-- The event journal: durable, ordered history of every run.
CREATE TABLE events (
    id          BIGSERIAL PRIMARY KEY,
    namespace   TEXT        NOT NULL,
    project     TEXT        NOT NULL,
    run         TEXT        NOT NULL,
    task        TEXT,
    event_type  TEXT        NOT NULL,
    payload     JSONB       NOT NULL DEFAULT '{}'::jsonb,
    -- Natural key of an event that must appear once (run, task, type, attempt).
    dedup_key   TEXT        UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX events_by_run ON events (namespace, run, id);
CREATE INDEX events_by_created ON events (created_at);

-- Subscribers are told "something new in this run"; they read rows by id.
CREATE FUNCTION notify_event() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('prazium_events', NEW.namespace || '/' || NEW.run || ':' || NEW.id);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER events_notify AFTER INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION notify_event();

-- API keys, stored as SHA-256 of the key; the key itself is shown once.
CREATE TABLE api_keys (
    id          TEXT        PRIMARY KEY,
    key_hash    TEXT        NOT NULL UNIQUE,
    tenant      TEXT        NOT NULL,
    tier        TEXT        NOT NULL CHECK (tier IN ('free', 'pro', 'enterprise')),
    is_admin    BOOLEAN     NOT NULL DEFAULT false,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at  TIMESTAMPTZ
);

CREATE TABLE sessions (
    token_hash  TEXT        PRIMARY KEY,
    key_id      TEXT        NOT NULL REFERENCES api_keys(id) ON DELETE CASCADE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at  TIMESTAMPTZ NOT NULL
);

-- Fixed one-minute windows, shared by every API replica.
CREATE TABLE rate_limit_windows (
    key_id       TEXT        NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    count        INTEGER     NOT NULL,
    PRIMARY KEY (key_id, window_start)
);

CREATE TABLE exports (
    id          TEXT        PRIMARY KEY,
    namespace   TEXT        NOT NULL,
    project     TEXT        NOT NULL,
    run         TEXT        NOT NULL,
    format      TEXT        NOT NULL CHECK (format IN ('zip', 'tar.gz')),
    status      TEXT        NOT NULL CHECK (status IN ('processing', 'completed', 'failed')),
    file_path   TEXT,
    file_name   TEXT,
    size_bytes  BIGINT,
    error       TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE deployments (
    id          TEXT        PRIMARY KEY,
    namespace   TEXT        NOT NULL,
    project     TEXT        NOT NULL,
    run         TEXT        NOT NULL,
    provider    TEXT        NOT NULL,
    status      TEXT        NOT NULL,
    url         TEXT,
    message     TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Each operator process says it is alive; health and /admin/stats read this.
CREATE TABLE operator_heartbeats (
    instance       TEXT        PRIMARY KEY,
    executor       TEXT        NOT NULL,
    max_workers    INTEGER     NOT NULL,
    active_workers INTEGER     NOT NULL DEFAULT 0,
    started_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen      TIMESTAMPTZ NOT NULL DEFAULT now()
);
