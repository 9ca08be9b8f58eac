"""The Project reconciler: spec.py (one idempotent step from description to approved
spec), planning.py (where that step runs when the planner is slow), state.py (the
status fields Runs change: run numbers, the build slot, the latest run)."""
