"""A big board paints each column's first cards and its true total; "Show N more" is a link
that works without JavaScript (?show_<stage>=N) and that board.js turns into a fetch of the
next cards (/positions/<id>/cards). The browser side is in tests/browser/."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app import clock
from app.models import Stage
from app.positions.queries import BOARD_FIRST, BOARD_MORE
from tests import factories as f
from tests.web import Web, sign_in


@pytest.fixture
def web(client):
    return Web(client)


@pytest.fixture
def me():
    return f.user(name="Rita Recruiter")


def text(response) -> str:
    return response.get_data(as_text=True)


def names(html: str, stage: str | None = None) -> list[str]:
    """Card names in page order (of one column, when given)."""
    if stage is not None:
        html = re.search(r'data-testid="column-' + stage + r'".*?</section>', html, re.S).group(0)
    return re.findall(r'<article class="cl-card[^>]*aria-label="([^"]+)"', html)


def fill(position, stage: Stage, n: int, prefix: str) -> list[str]:
    """n cards in `stage`, the newest first: the board's order."""
    now = clock.now()
    for i in range(n):
        a = f.application(
            position_=position, candidate_=f.candidate(name=f"{prefix} {i:03d}"), stage=stage
        )
        a.stage_entered_at = now - timedelta(minutes=i)
    return [f"{prefix} {i:03d}" for i in range(n)]


def test_first_paint_shows_the_first_cards_and_the_true_totals(web, me, db):
    position = f.position(owner=me)
    submitted = fill(position, Stage.SUBMITTED, BOARD_FIRST + BOARD_MORE + 7, "Sub")
    offers = fill(position, Stage.OFFER, 3, "Off")
    db.session.commit()
    sign_in(web, me)
    page = text(web.get(f"/positions/{position.id}"))

    assert names(page, "submitted") == submitted[:BOARD_FIRST]
    assert names(page, "offer") == offers
    assert f'data-testid="count-submitted">{len(submitted)}<' in page
    assert 'data-testid="count-offer">3<' in page
    assert 'data-testid="count-sourced">0<' in page
    more = re.search(r'<a class="btn btn-sm btn-link cl-more"[^>]*>.*?</a>', page, re.S).group(0)
    assert f"Show {BOARD_MORE} more" in more and f"({BOARD_MORE + 7} not shown)" in more
    assert f'href="/positions/{position.id}?show_submitted={BOARD_FIRST + BOARD_MORE}' in more
    assert (
        f'data-more-url="/positions/{position.id}/cards?stage=submitted&amp;offset={BOARD_FIRST}"'
        in more
    )
    assert 'data-testid="show-more-offer"' not in page  # all three shown already


def test_show_more_without_javascript_is_a_plain_link(web, me, db):
    position = f.position(owner=me)
    submitted = fill(position, Stage.SUBMITTED, BOARD_FIRST + BOARD_MORE + 7, "Sub")
    sourced = fill(position, Stage.SOURCED, BOARD_FIRST + 2, "Src")
    db.session.commit()
    sign_in(web, me)

    url = f"/positions/{position.id}?show_submitted={BOARD_FIRST + BOARD_MORE}"
    page = text(web.get(url))
    assert names(page, "submitted") == submitted[: BOARD_FIRST + BOARD_MORE]
    assert names(page, "sourced") == sourced[:BOARD_FIRST]
    # The next link keeps what the other columns show, and shows the last seven.
    more = re.search(r'data-testid="show-more-submitted"\s+href="([^"]+)"', page).group(1)
    assert "Show 7 more" in page
    page = text(web.get(more.replace("&amp;", "&").split("#")[0] + "&show_sourced=999"))
    assert names(page, "submitted") == submitted
    assert names(page, "sourced") == sourced
    assert "data-more-url" not in page


@pytest.mark.parametrize("raw", ["-5", "abc", "", "1e9", "99999999999999999999", "3.5"])
def test_odd_show_values_fall_back_to_a_sensible_count(web, me, db, raw):
    position = f.position(owner=me)
    submitted = fill(position, Stage.SUBMITTED, BOARD_FIRST + 3, "Sub")
    db.session.commit()
    sign_in(web, me)
    response = web.get(f"/positions/{position.id}?show_submitted={raw}")
    assert response.status_code == 200
    shown = names(text(response), "submitted")
    assert shown in (submitted[:BOARD_FIRST], submitted)


def test_the_next_cards_follow_on_and_end_with_the_next_control(web, me, db):
    position = f.position(owner=me)
    submitted = fill(position, Stage.SUBMITTED, BOARD_FIRST + BOARD_MORE + 7, "Sub")
    fill(position, Stage.OFFER, 3, "Off")
    db.session.commit()
    sign_in(web, me)

    batch = text(web.get(f"/positions/{position.id}/cards?stage=submitted&offset={BOARD_FIRST}"))
    assert names(batch) == submitted[BOARD_FIRST : BOARD_FIRST + BOARD_MORE]
    assert "<html" not in batch  # a fragment for board.js to insert
    assert "Show 7 more" in batch
    assert f"offset={BOARD_FIRST + BOARD_MORE}" in batch
    # Each card carries what the move menu and drag and drop need.
    assert 'aria-label="Move to… Sub 020"' in batch and 'draggable="true"' in batch
    assert 'name="application_ids"' in batch

    last = text(
        web.get(f"/positions/{position.id}/cards?stage=submitted&offset={BOARD_FIRST + BOARD_MORE}")
    )
    assert names(last) == submitted[BOARD_FIRST + BOARD_MORE :]
    assert "data-more-url" not in last
    assert names(text(web.get(f"/positions/{position.id}/cards?stage=offer&offset=99"))) == []


@pytest.mark.parametrize(
    "query", ["", "?stage=", "?stage=nonsense", "?stage=%00", "?stage=submitted&offset=x"]
)
def test_asking_for_no_column_is_a_clear_400(web, me, db, query):
    position = f.position(owner=me)
    fill(position, Stage.SUBMITTED, 2, "Sub")
    db.session.commit()
    sign_in(web, me)
    response = web.get(f"/positions/{position.id}/cards{query}")
    if "offset=x" in query:  # a bad offset starts at the top
        assert response.status_code == 200 and names(text(response)) == ["Sub 000", "Sub 001"]
    else:
        assert response.status_code == 400


def test_another_recruiters_column_is_404(web, me, db):
    position = f.position(owner=f.user(name="Other Recruiter"))
    fill(position, Stage.SUBMITTED, 2, "Sub")
    db.session.commit()
    sign_in(web, me)
    assert web.get(f"/positions/{position.id}/cards?stage=submitted").status_code == 404
