"""The web plumbing: configuration from the environment (config), the request's database
session (db), JSON request logs (jsonlog), security headers (security), health checks
(health), the command line (cli) and the worker's wiring (worker). ``app.create_app``
wires it together."""
