"""Export archives (zip, tar.gz) of a run's merged tree: their records in PostgreSQL
(records), built in the background by `git archive` (builder)."""
