"""Prazium's /v1 REST facade over the custom resources, the journal and the repos.

Packages by concern, in layers (a module imports its own package and lower layers
only; nothing here imports prazium_operator; tests/unit/test_api_layers.py checks):

  app, main, admin_cli  the FastAPI app (lifespan: settings, pools, gate, journal hub
                        into app.state; middleware; routers), uvicorn, prazium-admin
  routers/, web/        HTTP only: one module per contract section, route
                        dependencies (deps), the router (routing); the dashboard
  verbs/                what the API does, one module per resource: look up, refuse,
                        write, wait for the operator, shape the answer
  streams/ previews/    the journal followed live (SSE, WebSocket), kept logs;
  exports/              preview deployments; export archives
  git/ server/          repositories (reads, smart HTTP, credentials); what wraps
                        every request (request log, body limit, metrics, health)
  cluster/ auth/        custom resources (typed, cached, waited on); credentials,
                        keys, sessions, the gate and rate limits, tenants
  db                    the PostgreSQL pools
  contract/, settings   the wire: answers, requests, views, errors, OpenAPI;
                        ApiSettings (extends prazium_kit.settings)
"""

__version__ = "0.1.0"
