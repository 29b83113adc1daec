"""The managers' overdue report, with the page's filters and the page's query
(app/reports/queries.py): what the page, its CSV and the API list are one definition."""

from __future__ import annotations

from app import access, labels
from app.api import bp
from app.api.auth import user
from app.api.common import decode_cursor, encode_cursor
from app.api.problems import ApiProblem
from app.api.schemas import OverdueOut, OverduePage, OverdueQuery
from app.api.spec import operation
from app.reports import queries


@operation(
    bp,
    "GET",
    "/reports/overdue",
    summary="The overdue report",
    tag="reports",
    query=OverdueQuery,
    response=OverduePage,
    errors=(403,),
)
def overdue(query: OverdueQuery):
    """Managers only (as the page): every overdue application and why, most severe and
    longest-waiting first, from the report's last refresh."""
    if not access.sees_everything(user()):
        raise ApiProblem(403, "The overdue report is for managers.")
    f = queries.Filters(
        owner_id=query.recruiter_id,
        client_id=query.client_id,
        position_id=query.position_id,
        reason=query.reason.value if query.reason else None,
        min_age_days=query.min_age_days,
    )
    # The report's order is severity then age, not id: the cursor holds the page number.
    number = decode_cursor(query.cursor) + 1
    rows, more = queries.page(f, number, query.limit)
    return OverduePage(
        data=[
            OverdueOut(
                **{k: getattr(r, k) for k in OverdueOut.model_fields if k != "reason_label"},
                reason_label=labels.overdue_reason(r.reason),
            )
            for r in rows
        ],
        next_cursor=encode_cursor(number) if more else None,
    )
