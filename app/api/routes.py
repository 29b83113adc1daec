"""The API's operations: importing this module registers them on the blueprint."""

from app.api import (  # noqa: F401
    applications,
    bp,
    clients,
    docs,
    people,
    positions,
    reports,
)
