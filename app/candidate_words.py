"""Words candidates read that live in code rather than in a template, in the candidate's
language: the `messages` catalog (babel.cfg), translated for every shipped language and
checked complete by tests/test_i18n.py. Staff-facing words elsewhere in app/ are marked for
the `staff` catalog (babel-staff.cfg) and stay English.
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel.speaklater import LazyString

from app.models import Stage
from app.template_gettext import lazy_gettext as _l
from app.template_gettext import lazy_ngettext

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


# -- form messages a candidate can meet (the status page's "email me a new link") -----------
# The validators every form shares (app/validators.py) take their words from here, so they
# read in the candidate's language there and stay one sentence everywhere else.


def too_long(limit: int) -> LazyString:
    """A field's length limit (validators.fits)."""
    return lazy_ngettext(
        "Keep it to %(num)s character or fewer.",
        "Keep it to %(num)s characters or fewer.",
        limit,
        num=format(limit, ","),
    )


def invalid_email(problem: str) -> str:
    """An address refused, with what is wrong with it (EMAIL_PROBLEMS)."""
    return _("Enter a valid email address (%(problem)s).", problem=problem)


# What is wrong with an address, in our words: email_validator explains in English only
# (validators.email_problem picks one).
EMAIL_PROBLEMS: dict[str, str] = {
    "no_at": _l("an email address needs an @ sign, as in name@example.com"),
    "nothing_before": _l("something must come before the @ sign"),
    "nothing_after": _l("a domain such as example.com must come after the @ sign"),
    "too_long": _l("it is longer than an email address can be"),
    "space": _l("an email address cannot contain spaces"),
    "before": _l("the part before the @ sign has a character an email address cannot have"),
    "after": _l("the part after the @ sign is not a domain such as example.com"),
    "other": _l("it is not written like name@example.com"),
}
