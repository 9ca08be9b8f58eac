"""The Helm end-to-end suite runs against whatever cluster PRAZIUM_E2E_KUBECONFIG
names (make helm-e2e: the local node; make kind-e2e: a kind cluster). Without it
the suite is not collected: `make test` does not run it (it is its own target)."""

from __future__ import annotations

import os

collect_ignore_glob = [] if os.environ.get("PRAZIUM_E2E_KUBECONFIG") else ["test_*.py"]
