"""The demo's sign-ins (`flask seed`, `make run`), apart from app.seed: `make run`'s
supervisor prints them without importing the app (1.1 CPU-s at each start)."""

DEMO_PASSWORD = "closeloop-demo"  # noqa: S105  (public on purpose: demo data only)

# The admin is created last: it is the marker that a previous run finished.
DEMO_USERS = [
    ("Dana Whitfield", "admin@closeloop.test", "admin"),
    ("Marcus Bell", "manager@closeloop.test", "manager"),
    ("Riley Chen", "recruiter@closeloop.test", "recruiter"),
    ("Sofia Okafor", "sofia@closeloop.test", "recruiter"),
]
MARKER_EMAIL = "admin@closeloop.test"
