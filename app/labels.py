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

from app import candidate_words, languages
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
from app.template_gettext import fast_gettext
from app.template_gettext import lazy_gettext as _l

STAGES: dict[str, str] = {
    Stage.SOURCED: _l("Sourced"),
    Stage.SUBMITTED: _l("Submitted"),
    Stage.CLIENT_REVIEW: _l("Client review"),
    Stage.INTERVIEW: _l("Interview"),
    Stage.OFFER: _l("Offer"),
    Stage.HIRED: _l("Hired"),
    Stage.REJECTED: _l("Rejected"),
    Stage.WITHDRAWN: _l("Withdrawn"),
    Stage.POSITION_CLOSED: _l("Position closed"),
}

# Where an application stands, as the candidate reads it (in their language): in
# app/candidate_words.py, with the other candidate-facing words (the `messages` catalog).
STAGES_FOR_CANDIDATES = candidate_words.STAGES_FOR_CANDIDATES

# Why an application ended; each reason picks its own email, so the words say what the
# candidate will hear about. One table for the board, the bulk pages and the lifecycle.
REASONS: dict[str, str] = {
    OutcomeReason.AGENCY_DECISION: _l("We decided not to put them forward"),
    OutcomeReason.CLIENT_DECLINED: _l("The client declined"),
    OutcomeReason.CANDIDATE_WITHDREW: _l("The candidate withdrew"),
    OutcomeReason.BUDGET_CUT: _l("Budget cut: the position is cancelled"),
    OutcomeReason.CLIENT_WITHDREW: _l("The client withdrew the position"),
    OutcomeReason.FILLED_INTERNALLY: _l("Filled internally by the client"),
    OutcomeReason.FILLED_BY_OTHER: _l("Filled by someone else"),
    OutcomeReason.HIRED: _l("Hired: offer accepted"),
}

# Message kinds (app/notifications/kinds.py), as nouns: "the rejection email (our decision)".
KINDS: dict[str, str] = {
    "submitted": _l("Submission update"),
    "client_review": _l("Client review update"),
    "interview_scheduled": _l("Interview details"),
    "after_interview": _l("After-interview update"),
    "offer": _l("Offer update"),
    "position_on_hold": _l("Role on hold notice"),
    "position_reopened": _l("Role reopened notice"),
    "still_deciding": _l("Still-deciding reminder"),
    "update_reply": _l("Reply to an update request"),
    "reply_answer": _l("Answer to the candidate's email"),
    "status_link": _l("Status page link"),
    "hired": _l("Hired confirmation"),
    "withdrawal_ack": _l("Withdrawal confirmation"),
    "not_selected_agency": _l("Rejection email (our decision)"),
    "not_selected_client": _l("Rejection email (client's decision)"),
    "position_cancelled": _l("Role cancelled email"),
    "position_filled": _l("Role filled email"),
}

# What a message promises (Kind.category).
CATEGORIES: dict[str, str] = {
    "update": _l("Status update"),
    "outcome": _l("Outcome"),
    "optional": _l("Optional update"),
    "service": _l("Service message"),
}

STATES: dict[str, str] = {
    NState.PENDING: _l("Pending"),
    NState.QUEUED: _l("Queued"),
    NState.SENDING: _l("Sending"),
    NState.SENT: _l("Sent"),
    NState.DELIVERED: _l("Delivered"),
    NState.BOUNCED: _l("Bounced"),
    NState.DROPPED: _l("Dropped"),
    NState.FAILED: _l("Failed"),
    NState.SUPERSEDED: _l("Superseded"),
    NState.DISCHARGED: _l("Discharged"),
}

CHANNELS: dict[str, str] = {
    ContactChannel.PHONE: _l("Phone call"),
    ContactChannel.IN_PERSON: _l("In person"),
    ContactChannel.VIDEO: _l("Video call"),
    ContactChannel.OTHER: _l("Other"),
}

# How a candidate prefers to hear from us (Candidate.preferred_channel).
PREFERRED_CHANNELS: dict[str, str] = {"email": _l("Email"), "phone": _l("Phone")}

# SendGrid's delivery events and bounce types, as kept in delivery_events.
DELIVERY_EVENTS: dict[str, str] = {
    "processed": _l("Accepted by the mail provider"),
    "delivered": _l("Delivered"),
    "deferred": _l("Delayed"),
    "bounce": _l("Bounced"),
    "blocked": _l("Blocked"),
    "dropped": _l("Dropped"),
    "open": _l("Opened"),
    "click": _l("Link clicked"),
    "spamreport": _l("Marked as spam"),
    "unsubscribe": _l("Unsubscribed"),
    "group_unsubscribe": _l("Unsubscribed from this kind of email"),
    "group_resubscribe": _l("Subscribed again to this kind of email"),
}

OVERDUE_REASONS: dict[str, str] = {
    OverdueReason.OWED_UNSENT: _l("Owed, unsent"),
    OverdueReason.UNDELIVERABLE: _l("Undeliverable"),
    OverdueReason.PROMISE_MISSED: _l("Decision date missed"),
    OverdueReason.SILENT: _l("Silent"),
    OverdueReason.REPLY_UNANSWERED: _l("Reply unanswered"),
}

# Kinds of Task: something a person must do so a candidate is not left waiting.
TASK_KINDS: dict[str, str] = {
    "update_request": _l("Update request"),
    "reply_owed": _l("Reply owed"),
    "client_decision": _l("Client decision to confirm"),
    "undeliverable": _l("Message did not arrive"),
    "send_failed": _l("Message could not be sent"),
    "call_candidate": _l("Call the candidate"),
    "candidate_withdrew": _l("Candidate withdrew"),
    "promised_date_due": _l("Decision date due"),
    "promise_missed": _l("Decision date missed"),
    "overdue_message": _l("Message overdue"),
}

ACTIONS: dict[str, str] = {
    "update_requested": _l("Asked for an update"),
    "withdrew": _l("Withdrew their application"),
    "preferences_changed": _l("Changed their email preferences"),
    "language_changed": _l("Changed their language"),
    "unsubscribed": _l("Unsubscribed from optional updates"),
    "link_requested": _l("Asked for a fresh status link"),
    "links_revoked": _l("Status links revoked"),
    "exported": _l("Personal data exported"),
    "erased": _l("Personal data erased"),
}

# What an email reply from a candidate turned out to be (app/models/replies.py).
REPLY_STATUSES: dict[str, str] = {
    ReplyStatus.ACCEPTED: _l("Replied by email"),
    ReplyStatus.OTHER_SENDER: _l("Reply from another address"),
    ReplyStatus.AUTO_REPLY: _l("Automatic reply (nothing owed)"),
    ReplyStatus.BOUNCE: _l("Delivery failure report (nothing owed)"),
    ReplyStatus.NO_TOKEN: _l("Email without a reply address of ours"),
    ReplyStatus.FORGED: _l("Reply with a forged reply address (ignored)"),
    ReplyStatus.EXPIRED: _l("Reply to an email too old to answer here"),
    ReplyStatus.UNKNOWN: _l("Reply to a message no longer on file"),
}

POSITION_STATUSES: dict[str, str] = {
    PositionStatus.OPEN: _l("Open"),
    PositionStatus.ON_HOLD: _l("On hold"),
    PositionStatus.FILLED: _l("Filled"),
    PositionStatus.CANCELLED: _l("Cancelled"),
    PositionStatus.CLOSED: _l("Closed"),
}

IMPORT_STATUSES: dict[str, str] = {
    ImportStatus.PREVIEWED: _l("Previewed"),
    ImportStatus.IMPORTING: _l("Importing"),
    ImportStatus.DONE: _l("Done"),
    ImportStatus.FAILED: _l("Failed"),
}

STAFF_MESSAGE_STATES: dict[str, str] = {
    StaffMessageState.PENDING: _l("Pending"),
    StaffMessageState.SENDING: _l("Sending"),
    StaffMessageState.SENT: _l("Sent"),
    StaffMessageState.FAILED: _l("Failed"),
    StaffMessageState.SKIPPED: _l("Nothing to send"),
}

ROLES: dict[str, str] = {
    Role.RECRUITER: _l("Recruiter"),
    Role.MANAGER: _l("Manager"),
    Role.ADMIN: _l("Admin"),
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


# What to say on the phone when a candidate has no email address.
PHONE_NEWS: dict[str, str] = {
    "submitted": _l("their profile has gone to %(client)s for %(title)s"),
    "client_review": _l("%(client)s is reviewing their profile for %(title)s"),
    "interview_scheduled": _l("an interview for %(title)s is being arranged"),
    "after_interview": _l("we are waiting for %(client)s's decision on %(title)s"),
    "offer": _l("an offer for %(title)s is on its way"),
    "not_selected_agency": _l("we will not be putting them forward for %(title)s"),
    "not_selected_client": _l("%(client)s has decided not to go ahead with them for %(title)s"),
    "position_on_hold": _l("%(title)s at %(client)s is on hold for now"),
    "position_reopened": _l("%(title)s at %(client)s is open again"),
    "position_cancelled": _l("%(client)s has cancelled %(title)s"),
    "position_filled": _l("%(title)s at %(client)s has been filled"),
}


def _words(code: str) -> str:
    """A code nobody has named yet, as words rather than as a code."""
    text = str(code).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _lookup(table: Mapping[str, str], code: str | None) -> str:
    if code is None or code == "":
        return ""
    words = table.get(code)
    # One translation per call: the words are lazy strings, and testing one for truth
    # translates it as well (My queue asks for hundreds of labels per view).
    text = str(words) if words is not None else ""
    return text or _words(code)


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
    words = REASONS.get(text)
    return str(words) if words else (text or "")


def preferred_channel(code: str | None) -> str:
    return PREFERRED_CHANNELS.get(code) or channel(code)


def kind_phrase(code: str | None) -> str:
    """A message kind for the middle of a sentence: "the owed rejection email (…)"."""
    return phrase(kind(code))


def phone_news(kind: str, client: str, title: str) -> str:
    """What to tell a candidate without email about a message of this kind."""
    template = str(PHONE_NEWS.get(kind) or _l("there is news about %(title)s"))
    return template % {"client": client, "title": title}


def position_at(title: str | None, client: str | None) -> str:
    """ "Welder at Acme Ltd": a position named with its client, in the reader's language."""
    return fast_gettext("%(title)s at %(client)s", title=title or "", client=client or "")


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
