"""Preview deployments of a generated app: the Kubernetes objects that run it
(deploy) and their records in PostgreSQL (records)."""
