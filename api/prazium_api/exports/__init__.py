"""Export archives (zip, tar.gz) of a run's merged tree: their records in
PostgreSQL, built in the background by `git archive` (records)."""
