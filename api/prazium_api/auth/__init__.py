"""Who is calling and may they: credentials to a principal (authn, the route
dependency), API keys and web sessions (keys, sessions), the check-and-count gate,
the per-key rate limit (ratelimit, ratecount), tenants that still exist (tenants)
and the API's rights in a tenant's namespace (tenant_access)."""
