"""Prazium's /v1 REST facade over the custom resources, the journal and the repos.

Layers (a module imports only from its own layer or the ones below it; nothing
here imports prazium_operator):

  app, main            the FastAPI app: lifespan (settings, pools, gate, journal hub
                       into app.state), middleware, routers, the OpenAPI document
  routers/*            one module per contract section: HTTP only
  deps, authn,         route dependencies: the caller (auth + rate limit), settings,
  middleware           database, gate, hub, paging; middleware: the body limit and
                       the X-RateLimit-* headers on every counted response
  schemas, models      response and request bodies (pydantic)
  views, events        custom resources and journal rows -> the contract's shapes
  lookup, crs, sync,   reading and writing CRs (over prazium_kit.resources), waiting
  builds               for the operator, the concurrent-build quota
  db, gate, keys,      PostgreSQL: pools, credential checks, rate-limit windows,
  ratelimit, exports,  export and deployment records
  deployment_store
  repo, deploy,        git reads, preview Deployments, the journal follower
  follower
  errors, settings     the error envelope; ApiSettings (extends prazium_kit.settings)
"""

__version__ = "0.1.0"
