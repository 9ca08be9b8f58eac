"""A model behind every task, for the benches: the coding-agent loop (the openai coder)
against the stand-in of the Chat Completions endpoint (a real HTTP server; the only
stand-in: the paid model), whose session per task is the template one (write the
task's files, then finish: 2 model requests). Its reply time is the bench's knob, so
a task's time is mostly model time, as with a real model, not the template coder's
CPU.
"""

from __future__ import annotations

import os
from typing import Any

from kubernetes import client

from prazium_operator.executor.kubernetes import credentials_secret_name
from tests.support.node import node
from tests.support.openai_standin import OpenAIStandin
from tests.support.providers import OPENAI, env_for

MODEL_KEY = "sk-bench-build-model-00000000000"
MODEL_SECRET = "agent-keys"


def standin_for(executor: str) -> OpenAIStandin:
    """A stand-in the executor's workers reach: worker Pods on the node's bridge address
    (through the egress proxy), local workers on loopback. Not started yet."""
    host = node().host_address if executor == "kubernetes" else "127.0.0.1"
    return OpenAIStandin(MODEL_KEY, host=host)


def wire(
    executor: str, namespace: str, jobs_namespace: str | None, standin: OpenAIStandin
) -> tuple[dict[str, str], dict[str, str]]:
    """(the Run's spec.agent, what the operator's environment needs beside its usual)
    for tasks in namespace to use the stand-in. On the Job path the key and base URL
    reach worker Pods from the credentials Secret in the job namespace, as an admin
    provisions it, and the operator's base URL setting opens the egress proxy to it."""
    agent = {"coder": OPENAI.name, "model": "standin-1"}
    env: dict[str, Any]
    if executor == "kubernetes":
        assert jobs_namespace is not None
        client.CoreV1Api().create_namespaced_secret(
            jobs_namespace,
            {
                "metadata": {"name": credentials_secret_name(namespace, MODEL_SECRET)},
                "stringData": {OPENAI.key_env: MODEL_KEY, OPENAI.base_url_env: standin.base_url},
            },
        )
        agent["credentialsSecret"] = MODEL_SECRET
        env = {OPENAI.base_url_env: standin.base_url}
    else:
        env = env_for(OPENAI, standin.base_url, MODEL_KEY, "")
        if os.geteuid() != 0:  # the commands' sandbox needs root
            env["PRAZIUM_LOCAL_UNSANDBOXED_COMMANDS"] = "true"
    return agent, env
