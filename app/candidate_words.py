"""Words candidates read that live in code rather than in a template, in the candidate's
language: the `messages` catalog (babel.cfg), translated for every shipped language and
checked complete by tests/test_i18n.py. Staff-facing words elsewhere in app/ are marked for
the `staff` catalog (babel-staff.cfg) and stay English.
"""

from __future__ import annotations

from app.models import Stage
from app.template_gettext import lazy_gettext as _l

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
