"""The web plumbing: configuration from the environment (config), the request's database
session (db), JSON request logs (jsonlog), security headers (security), health checks
(health) and the command line (cli). ``app.create_app`` wires it together."""
