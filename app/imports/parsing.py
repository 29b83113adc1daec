"""Reading an uploaded CSV file into rows of candidate fields.

Spreadsheets export CSV in many shapes: with or without a UTF-8 byte order mark, comma or
semicolon separated (European locales use ";" because "," is their decimal point), with
headers like "Full name" or "E-mail". Everything that makes the whole file unusable raises
`FileProblem`; what is wrong with one row is recorded on that row, so the preview can list
it next to the rows that are fine.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from app.models import Candidate
from app.orm import max_length
from app.template_gettext import fast_gettext as _
from app.template_gettext import fast_ngettext as ngettext
from app.template_gettext import lazy_gettext as _l

FIELDS = ("name", "email", "phone", "timezone", "language")
# What the candidates table holds, so a row that would not fit is an error in the preview.
MAX_LENGTH = {f: max_length(getattr(Candidate, f)) for f in FIELDS}
# The columns in words, for "The email is longer than 320 characters."
COLUMN_WORDS = {
    "name": _l("name"),
    "email": _l("email"),
    "phone": _l("phone"),
    "timezone": _l("time zone"),
    "language": _l("language"),
}

# Header names after normalising (lower case, letters and digits only).
ALIASES = {
    "name": {"name", "fullname", "candidate", "candidatename", "namefull", "contactname"},
    "email": {"email", "emailaddress", "mail", "emailadres", "courriel"},
    "phone": {
        "phone",
        "mobile",
        "mobilephone",
        "mobilenumber",
        "phonenumber",
        "telephone",
        "tel",
        "cell",
        "cellphone",
    },
    "timezone": {"timezone", "tz", "zone", "ianatimezone"},
    "language": {"language", "lang", "locale", "languagetag", "preferredlanguage"},
    "first_name": {"firstname", "givenname", "forename"},
    "last_name": {"lastname", "surname", "familyname"},
}
REPLACEMENT = "\ufffd"


class FileProblem(ValueError):
    """The file as a whole cannot be read; the message is shown to the user as is."""


@dataclass
class ParsedFile:
    rows: list[dict]
    delimiter: str
    ignored_columns: list[str] = field(default_factory=list)


def _normalise(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.strip().lower())


def _decode(data: bytes) -> str:
    if not data.strip():
        raise FileProblem(_("The file is empty."))
    if b"\x00" in data[:4096]:
        raise FileProblem(
            _(
                "This is not a CSV file (it looks like a binary file, such as a spreadsheet "
                "saved as .xlsx). Save it as \u201cCSV UTF-8\u201d and upload that."
            )
        )
    text = data.decode("utf-8-sig", errors="replace")
    if text.count(REPLACEMENT) > max(20, len(text) // 20):
        raise FileProblem(
            _(
                "This file is not UTF-8 text. Save it from your spreadsheet as "
                "\u201cCSV UTF-8\u201d and upload it again."
            )
        )
    return text


def _delimiter(text: str) -> str:
    sample = "\n".join(text.splitlines()[:20])
    try:
        found = csv.Sniffer().sniff(sample, delimiters=",;\t").delimiter
    except csv.Error:
        found = ","
    header = text.splitlines()[0] if text else ""
    # The sniffer guesses from the whole sample; the header line decides when it disagrees.
    if found not in header:
        found = max(",;\t", key=header.count) if any(d in header for d in ",;\t") else ","
    return found


def _columns(header: list[str]) -> tuple[dict[str, int], list[str]]:
    """Which column index holds which field, and the headers nobody asked for."""
    columns: dict[str, int] = {}
    ignored = []
    for index, raw in enumerate(header):
        key = _normalise(raw)
        target = next((f for f, names in ALIASES.items() if key in names), None)
        if target and target not in columns:
            columns[target] = index
        elif raw.strip():
            ignored.append(raw.strip())
    if "name" not in columns and not {"first_name", "last_name"} & columns.keys():
        raise FileProblem(
            _(
                "No name column found. The first line must be a header naming the columns, "
                "for example: name, email, phone, timezone."
            )
        )
    return columns, ignored


def _cell(values: list[str], columns: dict[str, int], key: str) -> str:
    index = columns.get(key)
    if index is None or index >= len(values):
        return ""
    # Trims and folds stray newlines and tabs; a NUL is dropped (the row says it had one).
    return " ".join(values[index].replace("\x00", "").split())


def _row(line: int, values: list[str], columns: dict[str, int], width: int) -> dict:
    row = {"line": line, **{f: _cell(values, columns, f) for f in FIELDS}, "errors": []}
    if not row["name"]:
        parts = (_cell(values, columns, "first_name"), _cell(values, columns, "last_name"))
        row["name"] = " ".join(p for p in parts if p)
    if len(values) > width:
        row["errors"].append(
            _(
                "Has %(values)s values but the header has %(columns)s columns (a comma or "
                "semicolon inside a value that is not in quotes?).",
                values=len(values),
                columns=width,
            )
        )
    if any("\x00" in v for v in values):
        row["errors"].append(
            _(
                "Contains a NUL character, which no spreadsheet writes: the file may be "
                "damaged. Save it again as \u201cCSV UTF-8\u201d."
            )
        )
    if any(REPLACEMENT in v for v in values):
        row["errors"].append(
            _("Contains characters that are not UTF-8 (save the file as \u201cCSV UTF-8\u201d).")
        )
    for f, limit in MAX_LENGTH.items():
        if len(row[f]) > limit:
            row["errors"].append(
                _(
                    "The %(column)s is longer than %(limit)s characters.",
                    column=COLUMN_WORDS[f],
                    limit=limit,
                )
            )
    return row


def parse(data: bytes, *, max_rows: int) -> ParsedFile:
    """The rows of an uploaded file, each with its line number and row-level problems."""
    text = _decode(data)
    delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
        columns, ignored = _columns(header)
        rows = []
        for values in reader:
            if not any(v.strip() for v in values):
                continue  # blank lines at the end of a sheet
            if len(rows) >= max_rows:
                raise FileProblem(
                    ngettext(
                        "The file has more than %(num)d row. Split it into smaller files.",
                        "The file has more than %(num)d rows. Split it into smaller files.",
                        max_rows,
                    )
                )
            rows.append(_row(reader.line_num, values, columns, len(header)))
    except csv.Error as exc:
        message = _(
            "The file could not be read as CSV (line %(line)s): %(problem)s.",
            line=reader.line_num,
            problem=exc,
        )
        raise FileProblem(message) from exc
    if not rows:
        raise FileProblem(_("The file has a header but no rows of candidates."))
    return ParsedFile(rows=rows, delimiter=delimiter, ignored_columns=ignored)


def sample_csv() -> str:
    """The example offered for download: every accepted column, one row each way."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["name", "email", "phone", "timezone", "language"])
    writer.writerow(
        ["Ana Silva", "ana.silva@example.com", "+351 912 345 678", "Europe/Lisbon", "pt-PT"]
    )
    writer.writerow(["Ben Okafor", "ben.okafor@example.com", "+44 7700 900123", "", ""])
    writer.writerow(["Chloé Martin", "", "+33 6 12 34 56 78", "Europe/Paris", "fr"])
    writer.writerow(["Jana Schulz", "jana.schulz@example.de", "", "Europe/Berlin", "de"])
    return out.getvalue()
