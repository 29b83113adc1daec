"""All models, imported here so Alembic and the app see every table."""

from app.models.clients import Client, Position, PositionStatus
from app.models.notifications import (
    Alert,
    DeliveryEvent,
    EngineFlag,
    Lease,
    MailboxMessage,
    MessageTemplate,
    Notification,
    NState,
    ReconcilerRun,
)
from app.models.people import Candidate, Role, User
from app.models.pipeline import (
    ACTIVE_STAGES,
    TERMINAL_STAGES,
    Application,
    Contact,
    ContactChannel,
    OutcomeReason,
    Stage,
    StageEvent,
    Task,
)

__all__ = [
    "ACTIVE_STAGES",
    "TERMINAL_STAGES",
    "Alert",
    "Application",
    "Candidate",
    "Client",
    "Contact",
    "ContactChannel",
    "DeliveryEvent",
    "EngineFlag",
    "Lease",
    "MailboxMessage",
    "MessageTemplate",
    "NState",
    "Notification",
    "OutcomeReason",
    "Position",
    "PositionStatus",
    "ReconcilerRun",
    "Role",
    "Stage",
    "StageEvent",
    "Task",
    "User",
]
