"""Field types every command shares (pydantic only): clean text, and dates and times as strict ISO strings.

Why here and not per field: the same hostile inputs reach every command of every service (NUL, a
right-to-left override, zero-width and private-use characters in an ``actor`` end up in events for
good; ``starts_at: 100.0`` is a Unix time to pydantic; ``0001-01-01T00:00:00+23:59`` overflows when
turned to UTC). Each type refuses with a message that does not quote the value. Python callers may
pass ``date``/``datetime``/``time`` objects; from JSON only the ISO string forms are accepted.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator

CAMPAIGN_YEARS = (2020, 2100)  # wider than any campaign, narrow enough that no arithmetic overflows
BIRTH_YEARS = (1900, 2100)  # the age rule (10 to 100 years) is the registry's, not the type's
MAX_OFFSET = timedelta(hours=14)  # the widest UTC offset in use (Kiribati); pydantic allows 23:59

# Unicode categories refused in text: control (Cc: NUL, newlines, escapes), format (Cf: bidi
# overrides, zero-width spaces and joiners, BOM), private use (Co), unassigned (Cn), surrogates (Cs).
_REFUSED = {
    "Cc": "control",
    "Cf": "invisible formatting",
    "Co": "private-use",
    "Cn": "unassigned",
    "Cs": "surrogate",
}
_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_TIME = r"[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
_ISO_DATE = re.compile(rf"^{_DATE}$")
_ISO_TIME = re.compile(rf"^{_TIME}$")
_ISO_DATETIME = re.compile(rf"^{_DATE}T{_TIME}(Z|[+-][0-9]{{2}}:[0-9]{{2}})$")


def clean_text(value: str) -> str:
    """``value`` in Unicode NFC, refused if it holds a control, invisible, private or unassigned character."""
    text = unicodedata.normalize("NFC", value)
    for ch in text:
        kind = _REFUSED.get(unicodedata.category(ch))
        if kind is not None:
            raise ValueError(f"text contains a {kind} character")
    return text


def _date_string(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.match(value):
        return value
    raise ValueError("must be a date string YYYY-MM-DD")


def _datetime_string(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATETIME.match(value):
        return value
    raise ValueError("must be a date-time string YYYY-MM-DDTHH:MM[:SS[.ffffff]] with Z or ±HH:MM")


def _time_string(value: Any) -> Any:
    if isinstance(value, time):
        return value
    if isinstance(value, str) and _ISO_TIME.match(value):
        return value
    raise ValueError("must be a time string HH:MM[:SS[.ffffff]]")


def _years(first: int, last: int) -> Any:
    def check(value: date) -> date:
        # the local year, before any conversion to UTC could overflow
        if not first <= value.year <= last:
            raise ValueError(f"year must be {first} to {last}")
        return value

    return check


def _sane_offset(value: datetime) -> datetime:
    offset = value.utcoffset()
    if offset is None or abs(offset) > MAX_OFFSET:
        raise ValueError("UTC offset must be within ±14:00")
    return value


Text = Annotated[str, AfterValidator(clean_text)]
"""Free text (names, reasons, actors): NFC; no control, invisible, private-use or unassigned characters."""

CampaignDate = Annotated[date, BeforeValidator(_date_string), AfterValidator(_years(*CAMPAIGN_YEARS))]
"""A day of the campaign, ``YYYY-MM-DD``, year 2020 to 2100."""

BirthDate = Annotated[date, BeforeValidator(_date_string), AfterValidator(_years(*BIRTH_YEARS))]
"""A birth date, ``YYYY-MM-DD``, year 1900 to 2100."""

CampaignDateTime = Annotated[
    AwareDatetime,
    BeforeValidator(_datetime_string),
    AfterValidator(_years(*CAMPAIGN_YEARS)),
    AfterValidator(_sane_offset),
]
"""A moment of the campaign: an ISO date-time with its UTC offset, year 2020 to 2100."""

ClockTime = Annotated[time, BeforeValidator(_time_string)]
"""A local time of day, ``HH:MM[:SS]`` (no offset: the service point's local time)."""
