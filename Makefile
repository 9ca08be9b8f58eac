# Prazium - the commands a developer and CI use. See README.md and docs/.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help setup venv lock up down test test-unit lint docs api-key bench-api bench-scale bench-build bench-repair-reuse bench-agent bench-agent-loop bench-policy-gate cluster-build images image image-push helm-e2e kind-e2e

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

setup: ## Install what is missing: PostgreSQL, the Python venv, the control plane binary
	@scripts/setup.sh

venv: ## Only the Python environment (.venv: locked deps, the project installed editable)
	@scripts/venv.sh

up: ## Start control plane, node, PostgreSQL, operator and API (http://127.0.0.1:3001); NODES=2: a second node; RUNTIME=runc: workers without gVisor; EXECUTOR=local: no node
	@EXECUTOR=$(or $(EXECUTOR),kubernetes) PRAZIUM_RUNTIME=$(or $(RUNTIME),gvisor) PRAZIUM_NODES=$(or $(NODES),1) scripts/stack.sh up

lock: ## Rewrite both lock files (hashes included) from pyproject.toml; UPGRADE=NAME moves one package
	@scripts/lock.sh $(if $(UPGRADE),--upgrade-package $(UPGRADE),)

down: ## Stop everything `make up` started; safe to run twice
	@scripts/stack.sh down

test: ## Start a throw-away stack, run the whole suite, tear it down
	@scripts/test.sh $(PYTEST_ARGS)

test-unit: ## Only the tests that need no services (and no Go: only .venv is set up)
	@scripts/venv.sh && .venv/bin/python -m pytest tests/unit appgen/tests $(PYTEST_ARGS)

helm-e2e: ## Helm chart end to end on a throw-away local cluster (install, REST + kubectl builds, preview, upgrade, uninstall), then the two-node tests
	@scripts/helm-e2e.sh $(PYTEST_ARGS)

kind-e2e: ## The same end-to-end suite on a kind cluster (needs Docker, kind, kubectl, helm)
	@scripts/kind-e2e.sh $(PYTEST_ARGS)

docs: ## The documentation site in .dev/site (docs/, mkdocs.yml): reference pages regenerated, then built strictly
	@scripts/venv.sh && .venv/bin/python scripts/docs_reference.py \
	  && NO_MKDOCS_2_WARNING=1 .venv/bin/python -m mkdocs build --strict

lint: ## ruff check, ruff format --check and mypy (make test runs it first)
	@scripts/lint.sh

cluster-build: ## Build (or reuse) the local cluster binary (control plane and node)
	@scripts/build-cluster.sh

images: ## Build (or reuse) the pause, Prazium and chart PostgreSQL images (no registry, no Docker)
	@scripts/build-images.sh pause >/dev/null && scripts/build-images.sh prazium && scripts/build-images.sh postgres

image: ## The Prazium image from images/Dockerfile (buildah, no Docker) as an OCI archive in dist/; TAG=, BASES=debian|public
	@IMAGE_TAG=$(TAG) IMAGE_BASES=$(BASES) scripts/image.sh build

image-push: ## Push that image: make image-push REGISTRY=registry.example.com/team [TAG=] [TLS_VERIFY=false]
	@test -n "$(REGISTRY)" || { echo "usage: make image-push REGISTRY=registry.example.com/team [TAG=...] [TLS_VERIFY=false]" >&2; exit 2; }
	@IMAGE_TAG=$(TAG) IMAGE_BASES=$(BASES) TLS_VERIFY=$(or $(TLS_VERIFY),true) scripts/image.sh push "$(REGISTRY)"

api-key: ## Print a new API key: make api-key TENANT=<namespace> TIER=<free|pro|enterprise> [ADMIN=1]
	@test -n "$(TENANT)" || { echo "usage: make api-key TENANT=<namespace> TIER=<free|pro|enterprise> [ADMIN=1]" >&2; exit 2; }
	@. scripts/lib.sh && PRAZIUM_KUBECONFIG=$${PRAZIUM_KUBECONFIG:-$$DEV_DIR/kubeconfig} \
	  PRAZIUM_DATABASE_URL=$${PRAZIUM_DATABASE_URL:-$$(scripts/postgres.sh dsn)} \
	  "$$PRAZIUM_ROOT/.venv/bin/prazium-admin" create-key --tenant "$(TENANT)" \
	  --tier "$(or $(TIER),free)" $(if $(ADMIN),--admin,)

bench-api: ## API latency/throughput vs direct apiserver reads, SSE fan-out (own throw-away stack)
	@PRAZIUM_NODE=0 scripts/test.sh bench/bench_api.py -q -s -p no:cacheprovider

SCALE_LEVELS := 1,25,100
bench-scale: ## N runs at once, Job path beside local: gaps, runs/min, Pods/s, RSS, etcd per run, leftovers (own stack with the node; N=1,25,100 or N=500; RUNTIME=runc|gvisor)
	@BENCH_SCALE_N=$(or $(N),$(SCALE_LEVELS)) PRAZIUM_RUNTIME=$(or $(RUNTIME),gvisor) scripts/test.sh bench/bench_scale.py -q -s -p no:cacheprovider

bench-build: ## Build engine: run wall time, overhead vs worker time, parallelism 1 vs 3, local vs Job path (template tasks, and tasks waiting on a model stand-in), a Job start's profile, runc vs gVisor (own stack; RUNTIME=runc|gvisor)
	@PRAZIUM_RUNTIME=$(or $(RUNTIME),gvisor) scripts/test.sh bench/bench_build.py -q -s -p no:cacheprovider

bench-repair-reuse: ## Extra wall time of a repair round; model requests a retry saves on the todo example (own stack, no node)
	@PRAZIUM_NODE=0 scripts/test.sh bench/bench_repair_reuse.py -q -s -p no:cacheprovider
bench-agent-loop: ## Coding-agent loop: its own overhead per tool step, local and in worker Pods (own stack; p50/p99, goal <= 50 ms)
	@PRAZIUM_RUNTIME=$(or $(RUNTIME),gvisor) scripts/test.sh bench/bench_agent_loop.py -q -s -p no:cacheprovider
bench-policy-gate: ## Network policy gate: what it adds to a worker Pod's start, gate on vs off (own stack with the node)
	@PRAZIUM_RUNTIME=$(or $(RUNTIME),gvisor) scripts/test.sh bench/bench_policy_gate.py -q -s -p no:cacheprovider

bench-agent: ## Template agent: every corpus description built, tested and probed over HTTP (no stack)
	@scripts/venv.sh && .venv/bin/python appgen/bench/bench_agent_corpus.py
