"""Words for people: the one table of what every stored code is called on a page, in an
email and in a CSV. Codes (`position_cancelled`, `budget_cut`, `on_hold`) stay in the
database and the URLs; people read these.

Every layer may import this module (it imports only the models' enums), and templates get
each table as a filter: `{{ n.kind | kind_label }}`, `{{ a.stage | stage_label }}` (see
`FILTERS`). Labels are in sentence case; `phrase()` gives the form for the middle of a
sentence ("Our role cancelled email to …"). A code missing from its table still reads as
words rather than as a code, and tests/test_labels.py fails until it is added here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial

from flask_babel import lazy_gettext as _l

from app import languages
from app.models import (
    ContactChannel,
    ImportStatus,
    NState,
    OutcomeReason,
    OverdueReason,
    PositionStatus,
    ReplyStatus,
    Role,
    StaffMessageState,
    Stage,
)
from app.models.people import CANDIDATE_ACTIONS

STAGES: dict[str, str] = {
    Stage.SOURCED: "Sourced",
    Stage.SUBMITTED: "Submitted",
    Stage.CLIENT_REVIEW: "Client review",
    Stage.INTERVIEW: "Interview",
    Stage.OFFER: "Offer",
    Stage.HIRED: "Hired",
    Stage.REJECTED: "Rejected",
    Stage.WITHDRAWN: "Withdrawn",
    Stage.POSITION_CLOSED: "Position closed",
}

# Where an application stands, as the candidate reads it in an email ("Your application
# is being reviewed by the client").
STAGES_FOR_CANDIDATES: dict[str, str] = {
    # In the candidate's language (app/translations): "Your application is …".
    Stage.SOURCED: _l("being prepared by us"),
    Stage.SUBMITTED: _l("sent to the client"),
    Stage.CLIENT_REVIEW: _l("being reviewed by the client"),
    Stage.INTERVIEW: _l("at interview stage"),
    Stage.OFFER: _l("at offer stage"),
    Stage.HIRED: _l("hired"),
    Stage.REJECTED: _l("closed"),
    Stage.WITHDRAWN: _l("withdrawn"),
    Stage.POSITION_CLOSED: _l("closed because the role closed"),
}

# Why an application ended; each reason picks its own email, so the words say what the
# candidate will hear about. One table for the board, the bulk pages and the lifecycle.
REASONS: dict[str, str] = {
    OutcomeReason.AGENCY_DECISION: "We decided not to put them forward",
    OutcomeReason.CLIENT_DECLINED: "The client declined",
    OutcomeReason.CANDIDATE_WITHDREW: "The candidate withdrew",
    OutcomeReason.BUDGET_CUT: "Budget cut: the position is cancelled",
    OutcomeReason.CLIENT_WITHDREW: "The client withdrew the position",
    OutcomeReason.FILLED_INTERNALLY: "Filled internally by the client",
    OutcomeReason.FILLED_BY_OTHER: "Filled by someone else",
    OutcomeReason.HIRED: "Hired: offer accepted",
}

# Message kinds (app/notifications/kinds.py), as nouns: "the rejection email (our decision)".
KINDS: dict[str, str] = {
    "submitted": "Submission update",
    "client_review": "Client review update",
    "interview_scheduled": "Interview details",
    "after_interview": "After-interview update",
    "offer": "Offer update",
    "position_on_hold": "Role on hold notice",
    "position_reopened": "Role reopened notice",
    "still_deciding": "Still-deciding reminder",
    "update_reply": "Reply to an update request",
    "reply_answer": "Answer to the candidate's email",
    "status_link": "Status page link",
    "hired": "Hired confirmation",
    "withdrawal_ack": "Withdrawal confirmation",
    "not_selected_agency": "Rejection email (our decision)",
    "not_selected_client": "Rejection email (client's decision)",
    "position_cancelled": "Role cancelled email",
    "position_filled": "Role filled email",
}

# What a message promises (Kind.category).
CATEGORIES: dict[str, str] = {
    "update": "Status update",
    "outcome": "Outcome",
    "optional": "Optional update",
    "service": "Service message",
}

STATES: dict[str, str] = {
    NState.PENDING: "Pending",
    NState.QUEUED: "Queued",
    NState.SENDING: "Sending",
    NState.SENT: "Sent",
    NState.DELIVERED: "Delivered",
    NState.BOUNCED: "Bounced",
    NState.DROPPED: "Dropped",
    NState.FAILED: "Failed",
    NState.SUPERSEDED: "Superseded",
    NState.DISCHARGED: "Discharged",
}

CHANNELS: dict[str, str] = {
    ContactChannel.PHONE: "Phone call",
    ContactChannel.IN_PERSON: "In person",
    ContactChannel.VIDEO: "Video call",
    ContactChannel.OTHER: "Other",
}

# How a candidate prefers to hear from us (Candidate.preferred_channel).
PREFERRED_CHANNELS: dict[str, str] = {"email": "Email", "phone": "Phone"}

# SendGrid's delivery events and bounce types, as kept in delivery_events.
DELIVERY_EVENTS: dict[str, str] = {
    "processed": "Accepted by the mail provider",
    "delivered": "Delivered",
    "deferred": "Delayed",
    "bounce": "Bounced",
    "blocked": "Blocked",
    "dropped": "Dropped",
    "open": "Opened",
    "click": "Link clicked",
    "spamreport": "Marked as spam",
    "unsubscribe": "Unsubscribed",
    "group_unsubscribe": "Unsubscribed from this kind of email",
    "group_resubscribe": "Subscribed again to this kind of email",
}

OVERDUE_REASONS: dict[str, str] = {
    OverdueReason.OWED_UNSENT: "Owed, unsent",
    OverdueReason.UNDELIVERABLE: "Undeliverable",
    OverdueReason.PROMISE_MISSED: "Decision date missed",
    OverdueReason.SILENT: "Silent",
    OverdueReason.REPLY_UNANSWERED: "Reply unanswered",
}

# Kinds of Task: something a person must do so a candidate is not left waiting.
TASK_KINDS: dict[str, str] = {
    "update_request": "Update request",
    "reply_owed": "Reply owed",
    "client_decision": "Client decision to confirm",
    "undeliverable": "Message did not arrive",
    "send_failed": "Message could not be sent",
    "call_candidate": "Call the candidate",
    "candidate_withdrew": "Candidate withdrew",
    "promised_date_due": "Decision date due",
    "promise_missed": "Decision date missed",
    "overdue_message": "Message overdue",
}

ACTIONS: dict[str, str] = {
    "update_requested": "Asked for an update",
    "withdrew": "Withdrew their application",
    "preferences_changed": "Changed their email preferences",
    "language_changed": "Changed their language",
    "unsubscribed": "Unsubscribed from optional updates",
    "link_requested": "Asked for a fresh status link",
    "links_revoked": "Status links revoked",
    "exported": "Personal data exported",
    "erased": "Personal data erased",
}

# What an email reply from a candidate turned out to be (app/models/replies.py).
REPLY_STATUSES: dict[str, str] = {
    ReplyStatus.ACCEPTED: "Replied by email",
    ReplyStatus.OTHER_SENDER: "Reply from another address",
    ReplyStatus.AUTO_REPLY: "Automatic reply (nothing owed)",
    ReplyStatus.BOUNCE: "Delivery failure report (nothing owed)",
    ReplyStatus.NO_TOKEN: "Email without a reply address of ours",
    ReplyStatus.FORGED: "Reply with a forged reply address (ignored)",
    ReplyStatus.EXPIRED: "Reply to an email too old to answer here",
    ReplyStatus.UNKNOWN: "Reply to a message no longer on file",
}

POSITION_STATUSES: dict[str, str] = {
    PositionStatus.OPEN: "Open",
    PositionStatus.ON_HOLD: "On hold",
    PositionStatus.FILLED: "Filled",
    PositionStatus.CANCELLED: "Cancelled",
    PositionStatus.CLOSED: "Closed",
}

IMPORT_STATUSES: dict[str, str] = {
    ImportStatus.PREVIEWED: "Previewed",
    ImportStatus.IMPORTING: "Importing",
    ImportStatus.DONE: "Done",
    ImportStatus.FAILED: "Failed",
}

STAFF_MESSAGE_STATES: dict[str, str] = {
    StaffMessageState.PENDING: "Pending",
    StaffMessageState.SENDING: "Sending",
    StaffMessageState.SENT: "Sent",
    StaffMessageState.FAILED: "Failed",
    StaffMessageState.SKIPPED: "Nothing to send",
}

ROLES: dict[str, str] = {
    Role.RECRUITER: "Recruiter",
    Role.MANAGER: "Manager",
    Role.ADMIN: "Admin",
}

# name -> (table, the codes it must cover); tests/test_labels.py checks each is complete.
TABLES: dict[str, tuple[Mapping[str, str], tuple[str, ...]]] = {
    "stage": (STAGES, tuple(Stage)),
    "reason": (REASONS, tuple(OutcomeReason)),
    "state": (STATES, tuple(NState)),
    "channel": (CHANNELS, tuple(ContactChannel)),
    "action": (ACTIONS, CANDIDATE_ACTIONS),
    "overdue": (OVERDUE_REASONS, tuple(OverdueReason)),
    "reply_status": (REPLY_STATUSES, tuple(ReplyStatus)),
    "position_status": (POSITION_STATUSES, tuple(PositionStatus)),
    "import_status": (IMPORT_STATUSES, tuple(ImportStatus)),
    "staff_message_state": (STAFF_MESSAGE_STATES, tuple(StaffMessageState)),
    "role": (ROLES, tuple(Role)),
    "kind": (KINDS, ()),  # the message kinds live above the models (tested against KINDS)
    "category": (CATEGORIES, ()),
    "task": (TASK_KINDS, ()),
    "event": (DELIVERY_EVENTS, ()),
    "preferred_channel": (PREFERRED_CHANNELS, ()),
}


def _words(code: str) -> str:
    """A code nobody has named yet, as words rather than as a code."""
    text = str(code).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _lookup(table: Mapping[str, str], code: str | None) -> str:
    if code is None or code == "":
        return ""
    return table.get(code) or _words(code)


def _reader(table: Mapping[str, str]) -> Callable[[str | None], str]:
    return partial(_lookup, table)


stage = _reader(STAGES)
reason = _reader(REASONS)
kind = _reader(KINDS)
category = _reader(CATEGORIES)
state = _reader(STATES)
channel = _reader(CHANNELS)
event = _reader(DELIVERY_EVENTS)
overdue_reason = _reader(OVERDUE_REASONS)
task_kind = _reader(TASK_KINDS)
reply_status = _reader(REPLY_STATUSES)
action = _reader(ACTIONS)
position_status = _reader(POSITION_STATUSES)
import_status = _reader(IMPORT_STATUSES)
staff_message_state = _reader(STAFF_MESSAGE_STATES)
role = _reader(ROLES)


def stage_for_candidates(code: str | None) -> str:
    words = STAGES_FOR_CANDIDATES.get(code)
    return str(words) if words else _words(code or "").lower()


def status_reason(text: str | None) -> str:
    """Why a position was closed (an outcome reason) or put on hold (free text)."""
    return REASONS.get(text) or (text or "")


def preferred_channel(code: str | None) -> str:
    return PREFERRED_CHANNELS.get(code) or channel(code)


def kind_phrase(code: str | None) -> str:
    """A message kind for the middle of a sentence: "the owed rejection email (…)"."""
    return phrase(kind(code))


def phrase(label: str) -> str:
    """A label for the middle of a sentence: "the Rejection email" -> "the rejection email"."""
    return label[:1].lower() + label[1:]


# Jinja filters, registered on the app by app/main/routes.py.
FILTERS = {
    "stage_label": stage,
    "reason_label": reason,
    "status_reason_label": status_reason,
    "kind_label": kind,
    "category_label": category,
    "state_label": state,
    "channel_label": channel,
    "preferred_channel_label": preferred_channel,
    "event_label": event,
    "overdue_label": overdue_reason,
    "task_label": task_kind,
    "reply_status_label": reply_status,
    "action_label": action,
    "position_status_label": position_status,
    "import_status_label": import_status,
    "staff_message_state_label": staff_message_state,
    "role_label": role,
    "language_label": languages.name,
    "phrase": phrase,
}
