"""Reference data of the two-level government: 34 provinces, 3,321 commune-level units.

Codes come from the ``vietnam-provinces`` package; vhub writes them as zero-padded strings
(province ``"01"``, commune ``"00070"``) and accepts integers or unpadded strings on input.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import vietnam_provinces as vp


@dataclass(frozen=True)
class Province:
    code: str
    name: str
    codename: str


@dataclass(frozen=True)
class Commune:
    code: str
    name: str
    codename: str
    kind: str  # xã | phường | đặc khu
    province_code: str


def province_code(value: str | int) -> str:
    return f"{int(value):02d}"


def commune_code(value: str | int) -> str:
    return f"{int(value):05d}"


@cache
def provinces() -> dict[str, Province]:
    return {
        province_code(int(p.code)): Province(province_code(int(p.code)), p.name, p.codename)
        for p in vp.Province.iter_all()
    }


@cache
def communes() -> dict[str, Commune]:
    out: dict[str, Commune] = {}
    for w in vp.Ward.iter_all():
        code = commune_code(int(w.code))
        out[code] = Commune(
            code, w.name, w.codename, w.division_type.value, province_code(int(w.province_code))
        )
    return out


@cache
def communes_of(province: str) -> tuple[Commune, ...]:
    return tuple(c for c in communes().values() if c.province_code == province)


def normalise_province(value: str | int) -> str | None:
    """The canonical province code, or None when it is not one of the 34."""
    try:
        code = province_code(value)
    except (TypeError, ValueError):
        return None
    return code if code in provinces() else None


def normalise_commune(value: str | int) -> str | None:
    """The canonical commune code, or None when it is not one of the 3,321."""
    try:
        code = commune_code(value)
    except (TypeError, ValueError):
        return None
    return code if code in communes() else None
