"""The API's request and response bodies, as pydantic models: the same classes validate
what comes in, shape what goes out, and are the OpenAPI document's schemas (app/api/spec.py),
so the document cannot say something the code does not do.

Text lengths come from the model columns (`app.orm.max_length`), as the forms' do. Every
request body refuses fields it does not know (`extra="forbid"`): a typo in an ATS mapping
answers 422 naming the field instead of being silently dropped.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Generic, Literal, TypeVar

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
)

from app import clock, languages
from app.api.problems import CODES
from app.candidates.forms import known_zones
from app.models import (
    Application,
    Candidate,
    Client,
    Contact,
    ContactChannel,
    Notification,
    OutcomeReason,
    OverdueReason,
    Position,
    PositionStatus,
    Stage,
)
from app.orm import MAX_INT, max_length

Id = Annotated[int, Field(ge=1, le=MAX_INT)]


def text(attribute, *, required: bool = True):
    """A string as long as the column `attribute` holds; trimmed; required: not blank."""
    return Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, min_length=1 if required else 0, max_length=max_length(attribute)
        ),
    ]


def _email(value: str | None) -> str | None:
    if not value:
        return None
    try:
        validate_email(value, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise ValueError(f"Enter a valid email address ({str(exc).rstrip('.')}).") from None
    return value


def _zone(value: str) -> str:
    if value not in known_zones():
        raise ValueError("Use a time zone name such as Europe/London.")
    return value


def _within_reach(value: datetime) -> datetime:
    """Dates a person means: within five years either way (9999-12-31 is a typo, and dates
    near the ends of the calendar cannot be computed with)."""
    now = clock.now()
    if not now - timedelta(days=5 * 366) <= value <= now + timedelta(days=5 * 366):
        raise ValueError("Give a date within five years of today.")
    return value.astimezone(UTC)


Moment = Annotated[AwareDatetime, AfterValidator(_within_reach)]


def _language(value: str | None) -> str | None:
    """A BCP 47 tag in its usual spelling (`fr-ca` -> `fr-CA`), as the candidate form and the
    CSV import keep it; empty: the agency's default language."""
    try:
        return languages.normalize(value)
    except languages.BadLanguage as exc:
        raise ValueError(str(exc)) from None


Language = Annotated[
    Annotated[str, StringConstraints(max_length=languages.MAX_LENGTH)] | None,
    AfterValidator(_language),
    Field(
        description=(
            "The language of the candidate's emails and status page: a BCP 47 tag such as "
            "`en`, `de`, `es` or `fr-CA` (kept as given; the nearest shipped language is used, "
            "else the agency's default). null or empty: the agency's default."
        ),
        examples=["de"],
    ),
]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list, oldest first. Pass `next_cursor` as `cursor` for the next page;
    null means this was the last."""

    data: list[T]
    next_cursor: str | None


_CODES_TEXT = "Stable and snake_case: map it to your own words. " + "; ".join(
    f"`{code}`: {meaning}" for code, meaning in CODES.items()
)


class Problem(BaseModel):
    """RFC 9457 problem details. `title` and `detail` are English on purpose, for the
    developer reading a log (Accept-Language is not negotiated); map `code`."""

    type: str
    title: str
    status: int
    detail: str
    code: Annotated[str, Field(description=_CODES_TEXT)]
    errors: list[FieldError] | None = None


class FieldError(BaseModel):
    field: str
    message: str


Problem.model_rebuild()


class ListQuery(Body):
    cursor: Annotated[str, StringConstraints(max_length=40)] | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 50


# -- clients ------------------------------------------------------------------------------


class ClientIn(Body):
    name: text(Client.name)
    contact_name: text(Client.contact_name, required=False) | None = None
    contact_email: Annotated[
        text(Client.contact_email, required=False) | None, AfterValidator(_email)
    ] = None
    notes: text(Client.notes, required=False) | None = None


class ClientPatch(Body):
    name: text(Client.name) | None = None
    contact_name: text(Client.contact_name, required=False) | None = None
    contact_email: Annotated[
        text(Client.contact_email, required=False) | None, AfterValidator(_email)
    ] = None
    notes: text(Client.notes, required=False) | None = None


class ClientOut(Out):
    id: int
    name: str
    contact_name: str | None
    contact_email: str | None
    notes: str | None
    created_at: datetime
    updated_at: datetime


# -- positions ----------------------------------------------------------------------------


class PositionIn(Body):
    client_id: Id
    title: text(Position.title)
    location: text(Position.location, required=False) | None = None
    owner_id: Id | None = None


class PositionPatch(Body):
    client_id: Id | None = None
    title: text(Position.title) | None = None
    location: text(Position.location, required=False) | None = None
    owner_id: Id | None = None


class PositionQuery(ListQuery):
    status: PositionStatus | None = None
    client_id: Id | None = None


class LifecycleIn(Body):
    """hold: a free-text reason; cancel: budget_cut, client_withdrew or filled_internally;
    fill: filled_by_other or filled_internally."""

    action: Literal["hold", "cancel", "fill"]
    reason: text(Position.status_reason)


class PositionOut(Out):
    id: int
    client_id: int
    title: str
    location: str | None
    owner_id: int
    status: PositionStatus
    status_reason: str | None
    status_changed_at: datetime
    opened_at: datetime
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class LifecycleOut(BaseModel):
    position: PositionOut
    applications: int = Field(description="Applications changed (and candidates told).")


# -- candidates ---------------------------------------------------------------------------


class CandidateIn(Body):
    name: text(Candidate.name)
    email: Annotated[text(Candidate.email, required=False) | None, AfterValidator(_email)] = None
    phone: text(Candidate.phone, required=False) | None = None
    timezone: Annotated[
        Annotated[str, StringConstraints(max_length=max_length(Candidate.timezone))],
        AfterValidator(_zone),
    ] = "Europe/London"
    language: Language = None
    optional_updates: bool = True


class CandidatePatch(Body):
    name: text(Candidate.name) | None = None
    email: Annotated[text(Candidate.email, required=False) | None, AfterValidator(_email)] = None
    phone: text(Candidate.phone, required=False) | None = None
    timezone: (
        Annotated[
            Annotated[str, StringConstraints(max_length=max_length(Candidate.timezone))],
            AfterValidator(_zone),
        ]
        | None
    ) = None
    language: Language = None
    optional_updates: bool | None = None


class CandidateQuery(ListQuery):
    email: Annotated[str, StringConstraints(max_length=max_length(Candidate.email))] | None = None


class CandidateOut(Out):
    id: int
    name: str
    email: str | None
    phone: str | None
    timezone: str | None
    language: str | None = Field(
        description="BCP 47 tag; null: the agency's default language (see `language` below)."
    )
    optional_updates: bool
    owner_id: int | None
    created_at: datetime
    updated_at: datetime


# -- applications -------------------------------------------------------------------------


class ApplicationIn(Body):
    candidate_id: Id
    position_id: Id


class ApplicationQuery(ListQuery):
    position_id: Id | None = None
    candidate_id: Id | None = None


class MoveIn(Body):
    """A terminal stage (hired, rejected, withdrawn) needs a reason: it picks the message.
    `note` is a personal note added to the candidate's message."""

    to_stage: Stage
    reason: OutcomeReason | None = None
    note: text(Notification.personal_note, required=False) | None = None


class InterviewIn(Body):
    interview_at: Moment
    promised_response_at: Moment
    interviewers: text(Application.interviewers, required=False) | None = None
    client_contact: text(Application.client_contact, required=False) | None = None
    next_step: text(Application.next_step, required=False) | None = None
    note: text(Notification.personal_note, required=False) | None = None


class ApplicationOut(Out):
    id: int
    candidate_id: int
    position_id: int
    stage: Stage
    outcome_reason: str | None
    stage_entered_at: datetime
    interview_at: datetime | None
    interviewers: str | None
    promised_response_at: datetime | None
    client_contact: str | None
    next_step: str | None
    version: int
    created_at: datetime
    updated_at: datetime


# -- notifications, contacts, tasks ---------------------------------------------------------


class DeliveryEventOut(Out):
    event: str
    event_type: str | None
    reason: str | None
    occurred_at: datetime


class NotificationOut(Out):
    id: int
    application_id: int
    candidate_id: int
    kind: str
    kind_label: str
    state: str
    state_label: str
    reason: str | None
    due_at: datetime
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    events: list[DeliveryEventOut]


class NotificationQuery(ListQuery):
    application_id: Id | None = None
    candidate_id: Id | None = None


class ContactIn(Body):
    candidate_id: Id
    application_id: Id | None = None
    channel: ContactChannel
    summary: text(Contact.summary)
    occurred_at: Moment | None = None
    settle: list[Id] = Field(
        default_factory=list,
        max_length=100,
        description=(
            "Ids of the application's owed messages this contact settles (they will not be "
            "sent); none unless listed, as on the page. Outcome confirmations a candidate "
            "still needs in writing are settled only when listed here."
        ),
    )


class ContactOut(Out):
    id: int
    candidate_id: int
    application_id: int | None
    user_id: int
    channel: ContactChannel
    summary: str
    occurred_at: datetime
    created_at: datetime


class ContactResult(BaseModel):
    contact: ContactOut
    settled: str = Field(description="What the contact settled besides itself, in words.")


class TaskQuery(ListQuery):
    open: bool = True


class TaskOut(Out):
    id: int
    kind: str
    title: str
    candidate_id: int | None
    application_id: int | None
    notification_id: int | None
    assignee_id: int | None
    due_at: datetime | None
    created_at: datetime
    resolved_at: datetime | None


class OverdueQuery(ListQuery):
    """The report page's filters."""

    recruiter_id: Id | None = None
    client_id: Id | None = None
    position_id: Id | None = None
    reason: OverdueReason | None = None
    min_age_days: Annotated[int, Field(ge=0, le=3650)] | None = None


class OverdueOut(BaseModel):
    application_id: int
    reason: OverdueReason
    reason_label: str
    severity: int
    since: datetime
    business_days: int
    candidate: str
    position_id: int
    position: str
    client_id: int
    client: str
    owner_id: int
    owner: str
    message_kind: str | None
    message_state: str | None


class OverduePage(Page[OverdueOut]):
    pass


class Empty(Body):
    """No fields."""


# -- pages of lists (concrete classes: their names are the document's schema names) ---------


class ClientPage(Page[ClientOut]):
    pass


class PositionPage(Page[PositionOut]):
    pass


class CandidatePage(Page[CandidateOut]):
    pass


class ApplicationPage(Page[ApplicationOut]):
    pass


class NotificationPage(Page[NotificationOut]):
    pass


class ContactPage(Page[ContactOut]):
    pass


class TaskPage(Page[TaskOut]):
    pass


class TaskReplyIn(Body):
    """An answer to a candidate's update request: goes to them now."""

    message: text(Notification.personal_note)


class TaskRetryIn(Body):
    """The corrected address for an undeliverable message: it is sent again."""

    email: Annotated[text(Candidate.email), AfterValidator(_email)]
