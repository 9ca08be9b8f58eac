"""What wraps every request of the server: request ids and the access line
(requestlog), the body limit and the X-RateLimit-* headers (middleware),
Prometheus metrics (metrics), and the health checks of what the API depends on
(health)."""
