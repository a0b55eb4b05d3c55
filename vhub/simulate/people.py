"""Made-up but plausible people: Vietnamese names, mobile numbers, birth dates. Seeded, pure."""

from __future__ import annotations

import random
import zlib
from datetime import date, timedelta

SURNAMES = (
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Huỳnh",
    "Phan",
    "Vũ",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
    "Đinh",
    "Mai",
    "Trịnh",
    "Lâm",
)
MIDDLE = (
    "Văn",
    "Thị",
    "Minh",
    "Ngọc",
    "Quốc",
    "Thanh",
    "Đức",
    "Thu",
    "Hải",
    "Gia",
    "Bảo",
    "Hoài",
    "Xuân",
    "Anh",
    "Khánh",
    "Phương",
)
GIVEN = (
    "An",
    "Bình",
    "Châu",
    "Dũng",
    "Giang",
    "Hà",
    "Hạnh",
    "Hiếu",
    "Hòa",
    "Huy",
    "Hương",
    "Khoa",
    "Lan",
    "Linh",
    "Long",
    "Mai",
    "Nam",
    "Nga",
    "Nhung",
    "Phong",
    "Phúc",
    "Quân",
    "Quỳnh",
    "Sơn",
    "Tâm",
    "Thảo",
    "Thắng",
    "Trang",
    "Trung",
    "Tú",
    "Tuấn",
    "Vy",
    "Yến",
)
MOBILE_PREFIXES = ("03", "05", "07", "08", "09")
SKILLS = (
    "digital_skills",
    "admin_support",
    "online_public_services",
    "vneid",
    "e_payment",
    "first_aid",
    "translation",
)


def full_name(rng: random.Random) -> str:
    return f"{rng.choice(SURNAMES)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"


def phone(run_id: str, index: int) -> str:
    """The ``index``-th distinct mobile number of a run: a block of the number space per run id."""
    n = (zlib.crc32(run_id.encode()) + index * 7_919) % 500_000_000  # 5 prefixes x 10^8
    return f"{MOBILE_PREFIXES[n // 100_000_000]}{n % 100_000_000:08d}"


def birth_date(
    rng: random.Random, youngest: int = 16, oldest: int = 35, ref: date = date(2025, 7, 1)
) -> date:
    days = rng.randint(youngest * 365 + 5, oldest * 365 - 5)
    return ref - timedelta(days=days)


def skills(rng: random.Random) -> list[str]:
    return sorted(rng.sample(SKILLS, rng.randint(1, 3)))
