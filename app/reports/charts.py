"""Charts drawn on the server as SVG with pygal, embedded in the page: nothing to fetch, no
JavaScript. Series differ by dash pattern and marker as well as by colour (a colour-blind-
safe palette), and every chart sits beside a table with its numbers."""

from __future__ import annotations

import functools
import math
from datetime import date
from xml.etree import ElementTree

from markupsafe import Markup

from app import dates

# Okabe–Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
DASHES = (None, "8,4", "2,4", "12,4,2,4", "4,2", "1,1")
DOTS = (3, 4.5, 3.5, 5, 3, 4)


# pygal (and the lxml it brings) is imported by the first chart drawn, not with the reports
# blueprint: the RQ workers register that blueprint for its URLs and never draw (issue 18).
@functools.cache
def style():
    from pygal.style import Style

    return Style(
        background="transparent",
        plot_background="#ffffff",
        foreground="#334155",
        foreground_strong="#0f172a",
        foreground_subtle="#cbd5e1",
        colors=PALETTE,
        font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
        label_font_size=11,
        major_label_font_size=11,
        legend_font_size=12,
        title_font_size=13,
    )


_SVG_NS = "http://www.w3.org/2000/svg"


def _config(**extra) -> dict:
    return dict(
        style=style(),
        js=[],  # no tooltips script, and nothing loaded from the internet
        disable_xml_declaration=True,
        width=760,
        height=300,
        explicit_size=False,
        legend_at_bottom=True,
        legend_at_bottom_columns=3,
        show_x_guides=False,
        truncate_label=-1,
        x_label_rotation=30,
        **extra,
    )


def _render(chart, title: str) -> Markup:
    """pygal's SVG without its script element; labels are escaped by the XML serialiser."""
    tree = chart.render_tree()
    for parent in list(tree.iter()):
        for child in list(parent):
            comment = not isinstance(child.tag, str)  # pygal's credits, with its URLs
            if comment or child.tag.rsplit("}", 1)[-1] == "script":
                parent.remove(child)
    tree.set("role", "img")
    tree.set("aria-label", title)
    svg = ElementTree.tostring(tree, encoding="unicode") if _is_etree(tree) else _lxml(tree)
    return Markup(svg)  # noqa: S704 - serialised by an XML library, every text node escaped


def _is_etree(node) -> bool:
    return isinstance(node, ElementTree.Element)


def _lxml(node) -> str:
    from lxml import etree  # pygal uses lxml when it is installed

    return etree.tostring(node, encoding="unicode")


def line_chart(
    title: str,
    labels: list[str],
    series: list[tuple[str, list[float | None]]],
    *,
    y_title: str | None = None,
    scale: str = "count",
) -> Markup:
    """`scale`: "count" (whole-number ticks), "share" (percentages, 0-100 %) or "measure"
    (as many decimals as the tick step needs): no axis repeats a label."""
    import pygal

    values = [v for _, vs in series for v in vs if v is not None]
    ticks, decimals = y_ticks(values, scale)
    suffix = "%" if scale == "share" else ""
    chart = pygal.Line(
        **_config(
            title=title,
            y_title=y_title,
            allow_interruptions=True,
            include_x_axis=True,
            range=(ticks[0], ticks[-1]),
        )
    )
    chart.y_labels = ticks
    chart.value_formatter = lambda v: "" if v is None else f"{v:.{decimals}f}{suffix}"
    chart.x_labels = labels
    for i, (name, vs) in enumerate(series):
        dash = DASHES[i % len(DASHES)]
        stroke = {"width": 2.5}
        if dash:
            stroke["dasharray"] = dash
        chart.add(name, vs, stroke_style=stroke, dots_size=DOTS[i % len(DOTS)])
    return _render(chart, title)


def y_ticks(values: list[float], scale: str = "count") -> tuple[list[float], int]:
    """Ticks from 0 to just above the largest value in a 1-2-2.5-5 step (about five of
    them), and the decimals that tell them apart. Counts step by whole numbers; shares
    always span 0-100 %."""
    top = 100.0 if scale == "share" else max([*values, 0])
    top = top if top > 0 else 1
    rough = top / 5
    magnitude = 10 ** math.floor(math.log10(rough))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= rough - 1e-12)
    if scale == "count":
        step = max(1, math.ceil(step))
    n = math.ceil(top / step - 1e-9)
    ticks = [round(i * step, 10) for i in range(n + 1)]
    decimals = next(d for d in range(6) if abs(step * 10**d - round(step * 10**d)) < 1e-9)
    return ticks, decimals


def day_labels(days: list[date]) -> list[str]:
    return [dates.moment(d, "day_month") for d in days]
