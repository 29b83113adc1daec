"""Words a person would read, written into our own JavaScript instead of the page: the
string literals of a script (comments left out) that look like words rather than code.
tests/test_i18n_staff.py uses it to keep every such text in the page's js-strings block
(templates/_js_strings.html), where it is marked for translation.

Like tests/template_text.py it is a scanner, not a parser: enough for our scripts (no quote
inside a regular expression literal). A literal reads as words when it has two words with a
space between them, a capitalised word ("Parameters"), or ends like a sentence ("Saving…",
"Done."); a single lower-case word ("required") reads as code (an event, a class, a key),
which is the one kind of text it cannot tell apart, so keep even those in the block.
"""

from __future__ import annotations

import re

_WORDS = re.compile(
    r"[A-Za-z]{2,}[^A-Za-z]*\s+[^\s]*[A-Za-z]{2,}"  # two words with a space between
    r"|^\s*[A-Z][a-z]{2,}"  # a capitalised word
    r"|[A-Za-z]{2,}\s*[.!?…:]\s*$"  # the end of a sentence
)


def literals(source: str) -> list[tuple[int, str]]:
    """(line, text) of every string literal ('', "" and `` alike), comments skipped."""
    found: list[tuple[int, str]] = []
    i, n = 0, len(source)
    while i < n:
        if source.startswith("//", i):
            i = source.find("\n", i)
            i = n if i < 0 else i
        elif source.startswith("/*", i):
            i = source.index("*/", i) + 2
        elif source[i] in "'\"`":
            quote, j, chars = source[i], i + 1, []
            while source[j] != quote:
                if source[j] == "\\":
                    chars.append(source[j : j + 2])
                    j += 2
                    continue
                chars.append(source[j])
                j += 1
            found.append((source.count("\n", 0, i) + 1, "".join(chars)))
            i = j + 1
        else:
            i += 1
    return found


# Code with spaces in it: a list of CSS classes ("card mb-3") or a selector ("main [data-x]").
_CLASSES = re.compile(r"^\s*[a-z][a-z0-9]*(-[a-z0-9]+)*(\s+[a-z][a-z0-9]*(-[a-z0-9]+)*)*\s*$")
_SELECTOR = re.compile(r"[\[\]>]|(^|\s)[.#][a-z]")


def reads_as_words(text: str) -> bool:
    if _SELECTOR.search(text) or (_CLASSES.match(text) and "-" in text):
        return False
    return bool(_WORDS.search(text))


def words_in(source: str, allowed: set[str] = frozenset()) -> list[tuple[int, str]]:
    """Literals that read as words and are not in `allowed` (code that happens to)."""
    return [(line, t) for line, t in literals(source) if reads_as_words(t) and t not in allowed]
