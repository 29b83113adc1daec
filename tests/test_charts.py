"""Chart axes a person can read (issue 16.6): whole-number ticks for counts, percentages for
shares, and as many decimals as a measure's step needs; no axis repeats a label."""

from __future__ import annotations

import re

import pytest

from app.reports import charts


def y_labels(svg: str) -> list[str]:
    axis = re.search(r'<g class="axis y[^"]*">(.*?)</g></g>', str(svg), re.S).group(1)
    return re.findall(r"<text[^>]*>([^<]*)</text>", axis)


@pytest.mark.parametrize(
    ("values", "scale", "expected"),
    [
        ([0, 0, 0, 1, 1, 1], "count", ["0", "1"]),
        ([0, 3, 7], "count", ["0", "2", "4", "6", "8"]),
        ([0, 0, 0], "count", ["0", "1"]),
        ([None, 12.5, 80.0], "share", ["0%", "20%", "40%", "60%", "80%", "100%"]),
        ([0.01, 0.02, None], "measure", ["0.000", "0.005", "0.010", "0.015", "0.020"]),
        ([0.4, 1.7], "measure", ["0.0", "0.5", "1.0", "1.5", "2.0"]),
        ([26.0, 48.0], "measure", ["0", "10", "20", "30", "40", "50"]),
    ],
)
def test_axis_labels_are_distinct_and_readable(values, scale, expected):
    svg = charts.line_chart(
        "A chart", [str(i) for i in range(len(values))], [("s", values)], scale=scale
    )
    labels = y_labels(svg)
    assert labels == expected
    assert len(set(labels)) == len(labels)


@pytest.mark.parametrize("page", ["/reports/overdue", "/reports/sla", "/reports/delivery"])
def test_the_report_pages_axes_repeat_no_label(db, make_app, page):
    from tests import factories as f
    from tests.web import Web, sign_in

    web = sign_in(Web(make_app().test_client()), f.user("manager"))
    html = web.get(page).get_data(as_text=True)
    axes = re.findall(r'<g class="axis y[^"]*">(.*?)</g></g>', html, re.S)
    assert axes
    for axis in axes:
        labels = re.findall(r"<text[^>]*>([^<]*)</text>", axis)
        assert len(set(labels)) == len(labels) > 1, labels
    if page == "/reports/sla":
        assert "100%" in html
