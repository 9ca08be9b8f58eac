"""A run's or a task's model usage (the API's `usage`) as the CLI prints it."""

from __future__ import annotations


def usage_text(usage: object) -> str | None:
    """A run's or task's model usage in a line: tokens, requests, cost (or unknown)."""
    if not isinstance(usage, dict):
        return None
    inputs, outputs = int(usage.get("inputTokens") or 0), int(usage.get("outputTokens") or 0)
    cached = int(usage.get("cachedInputTokens") or 0)
    cost = usage.get("cost")
    return (
        f"{inputs + outputs:,} tokens ({inputs:,} in, {cached:,} of them cached; {outputs:,} out)"
        f" in {usage.get('requests') or 0} requests; cost "
        + (f"{float(cost):.4f}" if isinstance(cost, (int, float)) else "unknown (no price)")
    )


def tokens_cell(usage: object) -> str:
    """A table cell: the tokens (input + output), - when no model request was made."""
    if not isinstance(usage, dict):
        return "-"
    return f"{int(usage.get('inputTokens') or 0) + int(usage.get('outputTokens') or 0):,}"
