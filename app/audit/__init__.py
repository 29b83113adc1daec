"""The audit log: `audit.record(actor, action, target, detail)` for every layer to call.

Importing this package loads only the service (models and the session); the admins' page and
its blueprint live in app/audit/routes.py, registered by the app factory.
"""

from app.audit.services import ACTIONS, AuditLogReadOnly, record, record_alone

__all__ = ["ACTIONS", "AuditLogReadOnly", "record", "record_alone"]
