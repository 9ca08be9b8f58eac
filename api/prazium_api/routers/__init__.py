"""HTTP only: one module per contract section, each route translating a request into
a call of a verb (prazium_api.verbs) and its answer into a response. deps holds
the route dependencies (the caller, settings, database, paging), routing the
router every module uses."""
