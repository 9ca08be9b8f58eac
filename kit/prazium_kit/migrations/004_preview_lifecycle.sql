-- Previews are managed resources: each expires (expires_at, from the API's
-- deploy_ttl_seconds when it is made) and says when its objects were removed.
-- A record is "stopped" as soon as someone claims the stop; stopped_at is set once
-- its Kubernetes objects and data are gone, so a stop cut short (a replica that
-- died half-way) is finished by the next sweep (prazium_api/previews/expiry.py).
ALTER TABLE deployments
    ADD COLUMN expires_at TIMESTAMPTZ,
    ADD COLUMN stopped_at TIMESTAMPTZ;
UPDATE deployments SET expires_at = created_at + interval '24 hours';
UPDATE deployments SET stopped_at = updated_at WHERE status = 'stopped';
ALTER TABLE deployments ALTER COLUMN expires_at SET NOT NULL;

-- Deploying a run again answers the preview it has: one unstopped preview per run
-- and provider. Older duplicates made before this rule are stopped (stopped_at
-- stays empty, so the next sweep removes their objects).
UPDATE deployments AS older SET status = 'stopped', updated_at = now(),
    message = 'replaced by a newer preview of the same run'
WHERE older.status <> 'stopped' AND EXISTS (
    SELECT 1 FROM deployments AS newer
    WHERE newer.namespace = older.namespace AND newer.project = older.project
      AND newer.run = older.run AND newer.provider = older.provider
      AND newer.status <> 'stopped'
      AND (newer.created_at, newer.id) > (older.created_at, older.id)
);
CREATE UNIQUE INDEX deployments_one_per_run
    ON deployments (namespace, project, run, provider) WHERE status <> 'stopped';
CREATE INDEX deployments_by_project ON deployments (namespace, project, created_at DESC);
CREATE INDEX deployments_to_sweep ON deployments (expires_at) WHERE stopped_at IS NULL;
