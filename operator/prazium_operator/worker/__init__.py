"""The worker: one task, one worktree, one commit (`python -m prazium_operator.worker`)."""
