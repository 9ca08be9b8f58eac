"""Import, in the background, the LLM agents whose API key the operator holds.

The providers' SDKs take seconds of CPU to import (anthropic's most). Imported on
first use, that cost would land in the first planning step of each provider, and
every other step of that provider would wait on the import lock meanwhile. An
operator given a provider's key will plan with it, so it imports the agent at
start, off the main thread; workers (one agent, one task) do not preload.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Mapping

log = logging.getLogger("prazium.agents")

# The key variable of each LLM agent (as its client reads it) -> the agent's module.
AGENT_MODULES = {
    "OPENAI_API_KEY": "prazium_operator.agents.openai",
    "ANTHROPIC_API_KEY": "prazium_operator.agents.anthropic",
}


def preload_configured_agents(environ: Mapping[str, str] | None = None) -> threading.Thread | None:
    """Start importing the agents that have a key; the thread, or None when none has."""
    env = os.environ if environ is None else environ
    modules = [module for key_env, module in AGENT_MODULES.items() if env.get(key_env, "").strip()]
    if not modules:
        return None
    thread = threading.Thread(
        target=_import_all, args=(modules,), name="agent-preload", daemon=True
    )
    thread.start()
    return thread


def _import_all(modules: list[str]) -> None:
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception:  # the first real use reports it with its context
            log.exception("preloading %s failed", module)
