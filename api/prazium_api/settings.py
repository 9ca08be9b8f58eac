"""API settings (PRAZIUM_ prefix), on top of the settings every process shares (the kit's)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field

from prazium_kit.settings import KitSettings


class ApiSettings(KitSettings):
    host: str = "127.0.0.1"
    port: int = 3001
    # Largest request body accepted, in bytes; larger ones get 413.
    max_body_bytes: int = 1_048_576
    # An operator whose heartbeat is older than this counts as down.
    operator_stale_seconds: float = 30.0
    # How long a synchronous route (clarify, answers, approve, regenerate, start a
    # run, cancel) waits for the operator to reconcile before answering 500
    # INTERNAL_ERROR with reason OPERATOR_TIMEOUT (the change itself is recorded).
    sync_timeout_seconds: float = 30.0
    # SSE keep-alive comment interval; proxies drop idle connections after ~30-60 s.
    sse_keepalive_seconds: float = 15.0
    # A follower re-reads the journal this often even without a notification, so a
    # notification lost while the LISTEN connection reconnects delays, never drops.
    stream_poll_seconds: float = 5.0
    # Full garbage collections at most this often, at a quiet moment, instead of when
    # CPython would start one (server/gcpolicy.py: a full pause while an event fans
    # out to 1,000 streams delays every frame); 0: CPython's own policy.
    gc_full_seconds: float = Field(default=60.0, ge=0)
    # Requests per minute by tier (fixed one-minute windows shared by replicas).
    rate_limit_free: int = 60
    rate_limit_pro: int = 300
    rate_limit_enterprise: int = 1000
    # A verified API key is trusted on this replica for this long without asking
    # PostgreSQL again (its requests still count against the key's shared budget,
    # see rate_limit_flush_seconds): a revoked key stops working within this many
    # seconds. 0 disables.
    key_cache_seconds: float = 5.0
    # A cached key's requests are counted in process and added to the shared
    # window in PostgreSQL every this many seconds (sooner for a key that used 1/20
    # of its limit since), off the request path. Replicas together may admit up to
    # what each counted since its last flush over a key's budget (auth/ratecount.py).
    # 0: every request is counted in PostgreSQL (exact, one round trip each).
    rate_limit_flush_seconds: float = 0.5
    # Failed credential checks (bad key on login, WebSocket auth or a REST route,
    # expired session) per minute per (client address, presented credential),
    # shared by replicas. Once reached, that credential from that address answers
    # 429 until the minute ends without being looked up. Other credentials - a
    # valid key from the same address, behind the same proxy - are not affected:
    # nobody can lock others out. Guessing many different keys is not limited by
    # this; it is hopeless anyway (keys carry 256 random bits, auth/keys.py).
    auth_failures_per_minute: int = 10
    # Messages per minute one WebSocket connection may send (any type); more get a
    # RATE_LIMITED error message and are dropped. Authenticated messages also count
    # against the key's per-minute budget, like REST requests.
    ws_messages_per_minute: int = 120
    # Builds (non-terminal Runs) a tenant may have at once; 0 means unlimited.
    concurrent_builds_free: int = 1
    concurrent_builds_pro: int = 5
    concurrent_builds_enterprise: int = 0
    # Web UI session lifetime. The cookie is Secure whenever the request came over
    # https (directly, or through a proxy in forwarded_allow_ips that says so in
    # X-Forwarded-Proto, such as the chart's Ingress); session_cookie_secure makes it
    # Secure always (TLS ended by a proxy whose headers are not believed).
    session_ttl_seconds: int = 7 * 24 * 3600
    session_cookie_secure: bool = False
    # Export archives are kept this long, then answer 404.
    export_ttl_seconds: int = 7 * 24 * 3600
    # An export still "processing" after this long is marked failed (the replica
    # building it died or restarted): at start, every export_reap_interval_seconds,
    # and on a status read. Building a repository archive takes seconds.
    export_stale_seconds: float = 900.0
    export_reap_interval_seconds: float = 60.0
    # Preview deployment providers this installation offers.
    deploy_providers: list[str] = Field(default_factory=lambda: ["kubernetes"])
    # Image that runs the generated (Python standard library) app.
    deploy_image: str = "python:3.11-slim"
    # Largest generated app (sum of file sizes) that fits a preview ConfigMap.
    deploy_max_bytes: int = 900_000
    # Preview URL pattern; {service}, {namespace}, {port} (the Service's) and
    # {nodePort} (with deploy_service_type NodePort) are filled in.
    deploy_url_template: str = "http://{service}.{namespace}.svc:{port}"
    # The preview's Service type: ClusterIP, or NodePort to reach it on the nodes'
    # addresses (the local node: http://127.0.0.1:{nodePort}).
    deploy_service_type: Literal["ClusterIP", "NodePort"] = "ClusterIP"
    # A preview is stopped (its Kubernetes objects and data removed) this long after
    # it was made; DELETE .../deployments/{id} stops it sooner.
    deploy_ttl_seconds: int = Field(default=24 * 3600, ge=1)
    # How often each replica looks for expired previews (previews/expiry.py: replicas
    # share the work through row locks, so running it on every replica is safe).
    deploy_sweep_interval_seconds: float = Field(default=60.0, gt=0)
    # Where a preview keeps the app's data (APP_DATABASE, a SQLite file under /data in
    # the Pod) so that it outlives a restart of the Pod; removed when the preview stops.
    #   claim: a PersistentVolumeClaim per preview, of deploy_data_storage_class (empty:
    #          the cluster's default StorageClass), deploy_data_size large;
    #   host:  a directory per preview under deploy_data_host_dir (empty: <data_dir>/previews)
    #          behind a hostPath PersistentVolume bound to the preview's claim - for a
    #          single node whose filesystem the API shares (make up, the test stack);
    #   none:  an emptyDir, gone with the Pod.
    deploy_data: Literal["claim", "host", "none"] = "claim"
    deploy_data_size: str = "256Mi"
    deploy_data_storage_class: str = ""
    deploy_data_host_dir: str = ""
    # In a cluster (the Helm chart): the ClusterRole that create-key binds to the API's
    # ServiceAccount ("<namespace>/<name>") in each tenant namespace, so the API's rights
    # on workloads hold in tenant namespaces only. Empty (a local run with an admin
    # kubeconfig): no binding is made.
    tenant_cluster_role: str = ""
    tenant_service_account: str = ""
    # The same for the operator: the ClusterRole (get secrets: publish credentials) bound
    # to its ServiceAccount ("<namespace>/<name>") in each tenant namespace, so it reads
    # Secrets there and nowhere else. Empty: no binding is made.
    operator_tenant_cluster_role: str = ""
    operator_service_account: str = ""
    # Reads of Projects, Runs and Tasks from watch-fed in-memory caches (cluster/informer.py,
    # one per replica): writes through this replica are seen at once, others' when
    # the watch delivers them. Off: every read goes to the apiserver.
    read_cache: bool = True
    # With read_cache off: Project lists are served from a per-namespace snapshot at
    # most this old (seconds); writes through this replica invalidate it. 0 disables it.
    list_cache_seconds: float = 2.0
    # PostgreSQL connections per API process: db_pool_size for routes (they run in
    # the thread pool), db_gate_pool_size for the async auth/rate-limit gate, which
    # holds a connection for one statement per request.
    db_pool_size: int = 10
    db_gate_pool_size: int = 4
    # While PostgreSQL is unreachable a request waits at most this long for a
    # connection, then answers 503 with Retry-After: db_retry_after_seconds.
    db_acquire_timeout_seconds: float = 5.0
    db_retry_after_seconds: int = 5
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (uvicorn's
    # forwarded_allow_ips: comma-separated addresses or CIDR ranges, "*" for any).
    # Empty (the default): none, the client address is the TCP peer. Set it to the
    # Ingress controller's addresses when the API is behind one, or every client
    # shares the proxy's address (and nobody else's header may set it).
    forwarded_allow_ips: str = ""
    # Where clients reach this API (scheme://host[:port][/prefix], no /v1), for the
    # cloneUrl of projects; empty: the base URL of each request (routers/deps.py).
    external_url: str = ""
    # Kept-alive HTTPS connections to the Kubernetes API (one shared client).
    kube_pool_size: int = 32
    # Prometheus /metrics on the API port, without credentials (server/metrics.py).
    metrics_enabled: bool = True


@lru_cache(maxsize=1)
def get_api_settings() -> ApiSettings:
    return ApiSettings()
