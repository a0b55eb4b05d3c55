"""Normalising and checking what people type: phones, names, codes, dates. Pure functions."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from shared import refdata
from shared.decider import Rejected

NAME_MIN, NAME_MAX = 2, 120
_PHONE_JUNK = re.compile(r"[\s().\-]")
_MOBILE = re.compile(r"^[35789][0-9]{8}$")  # national significant number, mobile ([0-9]: \d is Unicode)
_LANDLINE = re.compile(r"^2[0-9]{9}$")  # 02x area codes after the trunk 0


def ascii_digits(text: str) -> str:
    """``text`` with full-width forms folded (NFKC) and every decimal digit of any script
    (Arabic-Indic, Devanagari, …) as its ASCII digit: ``int()``, ``isdigit()`` and ``\\d`` accept them
    all, so without this one number typed in four scripts would be four uniqueness keys."""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in folded)


def normalise_phone(raw: str) -> str:
    """A Vietnamese number as E.164 (+84 and ASCII digits); 0xxxxxxxxx, +84xxxxxxxxx and the same
    digits in any script are the same number."""
    digits = _PHONE_JUNK.sub("", ascii_digits(raw))
    if digits.startswith("+84"):
        national = digits[3:]
    elif digits.startswith("0084"):
        national = digits[4:]
    elif digits.startswith("84") and len(digits) in (11, 12):
        national = digits[2:]
    elif digits.startswith("0"):
        national = digits[1:]
    else:
        raise Rejected("invalid_phone", "a Vietnamese phone starts with 0 or +84")
    if not (_MOBILE.match(national) or _LANDLINE.match(national)):
        raise Rejected("invalid_phone", "not a Vietnamese mobile or landline number")
    return f"+84{national}"


def normalise_name(raw: str, *, field: str = "name") -> str:
    """Trimmed, inner spaces collapsed, Unicode NFC, bounded; must contain letters."""
    name = " ".join(unicodedata.normalize("NFC", raw).split())
    if not NAME_MIN <= len(name) <= NAME_MAX:
        raise Rejected(f"invalid_{field}", f"{field} must be {NAME_MIN} to {NAME_MAX} characters")
    if not any(ch.isalpha() for ch in name):
        raise Rejected(f"invalid_{field}", f"{field} must contain letters")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise Rejected(f"invalid_{field}", f"{field} contains control characters")
    return name


def identity_name(name: str) -> str:
    """The form used to spot possible duplicates: no case, no diacritics (đ → d), one space."""
    decomposed = unicodedata.normalize("NFD", name.casefold().replace("đ", "d"))
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


GUARDIAN_BELOW = 16  # Law 91/2025/QH15: a child's data needs a legal representative's consent


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def check_birth_date(born: date, today: date) -> date:
    age = age_on(born, today)
    if born > today:
        raise Rejected("invalid_birth_date", "birth date is in the future")
    if not 10 <= age <= 100:
        # the rule, not the age: derived from the birth date, it is personal
        raise Rejected("invalid_birth_date", "a volunteer must be 10 to 100 years old")
    return born


def check_place(province: str, commune: str | None) -> tuple[str, str | None]:
    """Canonical (province, commune) codes of the two-level government, or a refusal."""
    p = refdata.normalise_province(province)
    if p is None:
        raise Rejected("unknown_province", "no province has this code")
    if commune is None:
        return p, None
    c = refdata.normalise_commune(commune)
    if c is None:
        raise Rejected("unknown_commune", "no commune-level unit has this code")
    if refdata.communes()[c].province_code != p:
        raise Rejected(
            "commune_outside_province",
            f"commune {c} is in province {refdata.communes()[c].province_code}, not {p}",
        )
    return p, c


def normalise_skills(skills: list[str]) -> list[str]:
    out: list[str] = []
    for s in skills:
        skill = " ".join(unicodedata.normalize("NFC", s).split()).casefold()
        if skill and skill not in out:
            out.append(skill)
    return out
