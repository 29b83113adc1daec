"""Gettext for templates, cheap enough for pages that call it thousands of times.

Every text a staff page shows is marked with `_()` (ready for translation), so My queue with
its 200+ rows calls it some 4,500 times per view. Flask-Babel's own template callables look
the catalog up again at every call (the request context, the locale, the domain: about 6 µs),
which made My queue about 75% slower than before the marking (bench/load.py, alone, quiet
machine: 75 ms before, 133 ms after). Here the catalog is looked up once per locale per
app context and kept beside Flask-Babel's own state for it; `force_locale` (an email rendered in the
candidate's language during a staff request) sets a new locale object, so the catalog is
looked up again for it. Jinja's newstyle wrapper (autoescape, `%(name)s` variables) is kept
as it was, so templates read exactly as before.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

from flask.globals import _cv_app
from flask_babel import get_translations
from flask_babel.speaklater import LazyString
from jinja2 import pass_context
from markupsafe import Markup

_SLOT = "_closeloop_catalog"
# Set while the English of a stored text is written (app/stored_words.py): the msgids as
# they are, whatever the request's locale or catalog.
_ENGLISH: ContextVar[bool] = ContextVar("closeloop_english", default=False)


@contextlib.contextmanager
def english() -> Iterator[None]:
    """`fast_gettext` and the lazy strings give their msgids (English) inside."""
    token = _ENGLISH.set(True)
    try:
        yield
    finally:
        _ENGLISH.reset(token)


def translations():
    """The current locale's merged catalogs, looked up once per app context and locale."""
    app_ctx = _cv_app.get(None)
    babel_ctx = getattr(app_ctx.g, "_flask_babel", None) if app_ctx is not None else None
    if babel_ctx is not None:
        kept = getattr(babel_ctx, _SLOT, None)
        if kept is not None and kept[0] is getattr(babel_ctx, "babel_locale", None):
            return kept[1]
    found = get_translations()  # Flask-Babel's lookup: it also picks the locale if none yet
    babel_ctx = getattr(app_ctx.g, "_flask_babel", None) if app_ctx is not None else None
    if babel_ctx is not None:
        setattr(babel_ctx, _SLOT, (getattr(babel_ctx, "babel_locale", None), found))
    return found


@pass_context
def gettext(__context, __string, **variables):
    """`_()`/`gettext()` in a template: what Jinja's newstyle gettext does (a Markup when the
    template autoescapes, then `%` with the variables, escaped), in one call instead of
    the i18n extension's alias resolving `gettext` and calling its wrapper."""
    rv = translations().ugettext(__string)
    if __context.eval_ctx.autoescape:
        rv = Markup(rv)  # noqa: S704 -- our own catalog text, as Jinja itself does
    return rv % variables


def install(jinja_env) -> None:
    """Replace Flask-Babel's template callables with the cached lookup (same newstyle)."""
    jinja_env.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
        newstyle=True,
    )
    jinja_env.globals["_"] = jinja_env.globals["gettext"] = gettext


def fast_gettext(string: str, **variables) -> str:
    """`gettext` with the cached catalog lookup, for Python code called per row."""
    text = string if _ENGLISH.get() else translations().ugettext(string)
    return text if not variables else text % variables


def lazy_gettext(string: str, **variables) -> LazyString:
    """Flask-Babel's `lazy_gettext` (the same LazyString), translated through the cached
    lookup: labels and form texts are lazy, and My queue renders hundreds per view."""
    return LazyString(fast_gettext, string, **variables)


def fast_ngettext(singular: str, plural: str, n: int, **variables) -> str:
    """`ngettext` with the cached catalog lookup; `%(num)s` is the count unless given
    (as a formatted number: num="1,000")."""
    variables.setdefault("num", n)
    if _ENGLISH.get():
        return (singular if n == 1 else plural) % variables
    return translations().ungettext(singular, plural, n) % variables


def lazy_ngettext(singular: str, plural: str, n: int, **variables) -> LazyString:
    """`lazy_gettext` for a count: a form's message built when the module is imported
    (`make translations` extracts it with `-k lazy_ngettext:1,2`)."""
    return LazyString(fast_ngettext, singular, plural, n, **variables)


def and_list(items: list[str]) -> str:
    """ "a, b and c" in the current language: the words between come from the catalog."""
    items = [str(i) for i in items]
    if len(items) < 2:
        return "".join(items)
    return fast_gettext("%(items)s and %(last)s", items=", ".join(items[:-1]), last=items[-1])
