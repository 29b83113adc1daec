"""Every message a candidate can be owed, and what each one promises."""

from __future__ import annotations

from dataclasses import dataclass

from app import labels
from app.models import OutcomeReason, Stage


@dataclass(frozen=True)
class Kind:
    name: str
    # outcome: terminal news, transactional, never dropped.
    # update: a status change the candidate needs. optional: may be switched off by them.
    # service: about their access, not an application's status (a fresh status link).
    category: str
    # Waits the undo window and goes out in the candidate's business hours.
    delayed: bool = False
    # Answers something the candidate just did (asked, withdrew): goes alone and at once,
    # outside the digest window, quiet hours and the daily cap (see pacing.py).
    requested: bool = False
    # News the candidate still needs in writing even after a call (an offer, an outcome):
    # a logged contact does not settle it unless the recruiter ticks it on purpose.
    in_writing: bool = False
    # Answers a promised decision date: a decision, or "still deciding" with the next date.
    # The day's last status email waits for one that is due that day (pacing.py).
    answers_promise: bool = False


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("submitted", "update"),
        Kind("client_review", "update"),
        Kind("interview_scheduled", "update"),
        Kind("after_interview", "update"),
        Kind("offer", "update", in_writing=True, answers_promise=True),
        Kind("position_on_hold", "update"),
        Kind("position_reopened", "update"),
        Kind("still_deciding", "optional", answers_promise=True),
        Kind("update_reply", "update", requested=True),
        # The recruiter's answer to the candidate's email reply (app/replies/).
        Kind("reply_answer", "update", requested=True),
        Kind("status_link", "service", requested=True),
        Kind("hired", "outcome", in_writing=True, answers_promise=True),
        Kind("withdrawal_ack", "outcome", requested=True, in_writing=True, answers_promise=True),
        Kind("not_selected_agency", "outcome", delayed=True, in_writing=True, answers_promise=True),
        Kind("not_selected_client", "outcome", delayed=True, in_writing=True, answers_promise=True),
        Kind("position_cancelled", "outcome", delayed=True, in_writing=True, answers_promise=True),
        Kind("position_filled", "outcome", delayed=True, in_writing=True, answers_promise=True),
    )
}

REQUESTED_KINDS = tuple(k.name for k in KINDS.values() if k.requested)
DELAYED_KINDS = tuple(k.name for k in KINDS.values() if k.delayed)
# Status emails: what the digest, the quiet hours and the daily cap are about.
PACED_KINDS = tuple(k.name for k in KINDS.values() if not k.requested)

# Moving into these stages owes this message (None: nothing to say yet).
STAGE_KIND: dict[str, str | None] = {
    Stage.SOURCED: None,
    Stage.SUBMITTED: "submitted",
    Stage.CLIENT_REVIEW: "client_review",
    Stage.INTERVIEW: "interview_scheduled",
    Stage.OFFER: "offer",
}

# Terminal stages: (stage, reason) -> message. Every terminal reason has one.
OUTCOME_KIND: dict[tuple[str, str], str] = {
    (Stage.HIRED, OutcomeReason.HIRED): "hired",
    (Stage.REJECTED, OutcomeReason.AGENCY_DECISION): "not_selected_agency",
    (Stage.REJECTED, OutcomeReason.CLIENT_DECLINED): "not_selected_client",
    (Stage.WITHDRAWN, OutcomeReason.CANDIDATE_WITHDREW): "withdrawal_ack",
    (Stage.POSITION_CLOSED, OutcomeReason.BUDGET_CUT): "position_cancelled",
    (Stage.POSITION_CLOSED, OutcomeReason.CLIENT_WITHDREW): "position_cancelled",
    (Stage.POSITION_CLOSED, OutcomeReason.FILLED_INTERNALLY): "position_filled",
    (Stage.POSITION_CLOSED, OutcomeReason.FILLED_BY_OTHER): "position_filled",
}

TERMINAL_REASONS: dict[str, tuple[str, ...]] = {}
for _stage, _reason in OUTCOME_KIND:
    TERMINAL_REASONS.setdefault(_stage, ())
    TERMINAL_REASONS[_stage] += (_reason,)


def outcome_kind(stage: str, reason: str | None) -> str:
    try:
        return OUTCOME_KIND[(stage, reason)]
    except KeyError:
        allowed = "; ".join(labels.reason(r) for r in TERMINAL_REASONS.get(stage, ())) or "none"
        raise ValueError(
            f"Moving to {labels.phrase(labels.stage(stage))} needs one of these reasons: {allowed}."
        ) from None
