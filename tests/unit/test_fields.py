"""Shared command field types: clean text, strict ISO dates and times in a sane range (issue 10, defect 6)."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from services.registry.domain import values
from shared.decider import Rejected
from shared.fields import CampaignDate, CampaignDateTime, ClockTime, Text

pytestmark = pytest.mark.property
REFUSED = {"Cc", "Cf", "Co", "Cn", "Cs"}


class Form(BaseModel):
    text: Text | None = None
    day: CampaignDate | None = None
    moment: CampaignDateTime | None = None
    clock: ClockTime | None = None


def refused(**fields: Any) -> str:
    with pytest.raises(ValidationError) as err:
        Form(**fields)
    return str(err.value.errors(include_input=False)[0]["msg"])


@given(st.text(st.characters(codec=None, exclude_categories=()), max_size=40))
def test_text_is_nfc_without_invisible_characters_or_refused_without_echo(raw: str) -> None:
    """Any text is either kept (NFC, no Cc/Cf/Co/Cn/Cs character) or refused with a message that
    does not quote it."""
    try:
        kept = Form(text=raw).text
    except ValidationError as err:
        message = str(err.errors(include_input=False)[0]["msg"])
        assert "character" in message
        assert not raw or raw not in message or len(raw) < 3
        return
    assert kept is not None
    assert kept == unicodedata.normalize("NFC", raw)
    assert not any(unicodedata.category(ch) in REFUSED for ch in kept)


@pytest.mark.parametrize(
    "bad", ["ops\x00", "a\u202eb", "\u200bx", "x\ue000", "\ufeffx", "a\u2066b", "\U000e0001"]
)
def test_control_bidi_zero_width_and_private_use_characters_are_refused(bad: str) -> None:
    assert "character" in refused(text=bad)


def test_vietnamese_is_kept_and_composed() -> None:
    assert Form(text="Nguye\u0302\u0303n Thi\u0323 Ho\u00e0").text == "Nguyễn Thị Hoà"


@given(st.one_of(st.integers(), st.floats(), st.booleans(), st.text(max_size=30)))
def test_numbers_and_free_strings_are_never_dates_or_times(value: Any) -> None:
    """A Unix time, a bare number or most strings are refused as dates, date-times and times."""
    for field in ("day", "moment", "clock"):
        try:
            parsed = Form(**{field: value})
        except ValidationError:
            continue
        assert isinstance(value, str)  # only an ISO string can get through
        assert value[:1].isdigit()
        assert getattr(parsed, field) is not None


@given(
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    st.integers(-(23 * 60 + 59), 23 * 60 + 59),
)
def test_any_year_and_offset_is_a_refusal_or_a_safe_moment(moment: datetime, offset_min: int) -> None:
    """Years 1..9999 with offsets up to ±23:59 never overflow: refused, or within 2020..2100 and ±14:00."""
    aware = moment.replace(tzinfo=timezone(timedelta(minutes=offset_min)))
    try:
        parsed = Form(moment=aware.isoformat()).moment
    except ValidationError:
        assert not (2020 <= moment.year <= 2100 and abs(offset_min) <= 14 * 60)
        return
    assert parsed is not None
    assert 2020 <= parsed.year <= 2100
    assert parsed.astimezone(UTC).year in range(2019, 2102)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("moment", "0001-01-01T00:00:00+23:59"),
        ("moment", "2025-07-10T08:00:00"),  # no offset
        ("moment", 100.0),
        ("day", "0069-01-01"),
        ("day", "9999-12-31"),
        ("day", "2025-07-10T00:00:00+07:00"),
        ("clock", 28_800),
        ("clock", "8 am"),
    ],
)
def test_the_reported_values_are_refused(field: str, value: Any) -> None:
    refused(**{field: value})


PHONE_FORMS = [
    "0977123450",
    "\u0660\u0669\u0667\u0667\u0661\u0662\u0663\u0664\u0665\u0660",
    "\uff10\uff19\uff17\uff17\uff11\uff12\uff13\uff14\uff15\uff10",
    "+84\u096f\u096d\u096d\u0967\u0968\u0969\u096a\u096b\u0966",
    "\uff0b\uff18\uff14 977 123 450",
]


@pytest.mark.parametrize("raw", PHONE_FORMS)
def test_a_phone_in_any_digits_is_one_e164_number(raw: str) -> None:
    """Defect 4: the stored form (and so the uniqueness key) is ASCII E.164 whatever digits were typed."""
    assert values.normalise_phone(raw) == "+84977123450"


@given(st.text(max_size=20))
def test_a_normalised_phone_is_always_ascii_e164(raw: str) -> None:
    try:
        phone = values.normalise_phone(raw)
    except Rejected:
        return
    assert phone.isascii()
    assert phone.startswith("+84")
    assert phone[1:].isdigit()
