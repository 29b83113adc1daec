"""All models, imported here so Alembic and the app see every table."""

from app.models.audit import AuditEntry
from app.models.clients import Client, Position, PositionStatus
from app.models.imports import CandidateImport, ImportStatus
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
from app.models.people import Candidate, CandidateAction, Role, User
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
from app.models.replies import InboundReply, ReplyStatus
from app.models.reports import (
    AGENCY_WIDE,
    SEVERITY,
    DigestSetting,
    OverdueCount,
    OverdueDaily,
    OverdueItem,
    OverdueReason,
    StaffMessage,
    StaffMessageState,
)

__all__ = [
    "ACTIVE_STAGES",
    "AGENCY_WIDE",
    "TERMINAL_STAGES",
    "Alert",
    "AuditEntry",
    "Application",
    "Candidate",
    "CandidateAction",
    "CandidateImport",
    "Client",
    "Contact",
    "ContactChannel",
    "DigestSetting",
    "DeliveryEvent",
    "EngineFlag",
    "ImportStatus",
    "InboundReply",
    "Lease",
    "MailboxMessage",
    "MessageTemplate",
    "NState",
    "Notification",
    "OutcomeReason",
    "OverdueCount",
    "OverdueDaily",
    "OverdueItem",
    "OverdueReason",
    "Position",
    "PositionStatus",
    "ReconcilerRun",
    "ReplyStatus",
    "Role",
    "SEVERITY",
    "Stage",
    "StageEvent",
    "StaffMessage",
    "StaffMessageState",
    "Task",
    "User",
]
