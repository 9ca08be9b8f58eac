"""What the API does, one module per resource, in the Argo server's manner: each verb
looks its objects up (404 for another tenant's), refuses what the rules forbid
(archived, wrong phase, over a quota), writes (a spec patch, a create, a record),
waits for the operator where the contract answers synchronously (read-your-writes)
and shapes the answer (contract/views.py). Routers translate HTTP to a verb call
and its answer back; anything else that needs a verb calls it the same way.

Verbs take plain values (the tenant or the caller, the settings they read, the
database) and return the contract's answer models."""
