"""Member States, their local time and working days, for the weekend/holiday rule of RTS-R Art. 5(4)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

#: The 30 EU/EEA Member States (ISO 3166 alpha-2; Greece is GR) and the IANA zone of each capital.
MEMBER_STATE_ZONES: dict[str, str] = {
    "AT": "Europe/Vienna",
    "BE": "Europe/Brussels",
    "BG": "Europe/Sofia",
    "HR": "Europe/Zagreb",
    "CY": "Asia/Nicosia",
    "CZ": "Europe/Prague",
    "DK": "Europe/Copenhagen",
    "EE": "Europe/Tallinn",
    "FI": "Europe/Helsinki",
    "FR": "Europe/Paris",
    "DE": "Europe/Berlin",
    "GR": "Europe/Athens",
    "HU": "Europe/Budapest",
    "IE": "Europe/Dublin",
    "IT": "Europe/Rome",
    "LV": "Europe/Riga",
    "LT": "Europe/Vilnius",
    "LU": "Europe/Luxembourg",
    "MT": "Europe/Malta",
    "NL": "Europe/Amsterdam",
    "PL": "Europe/Warsaw",
    "PT": "Europe/Lisbon",
    "RO": "Europe/Bucharest",
    "SK": "Europe/Bratislava",
    "SI": "Europe/Ljubljana",
    "ES": "Europe/Madrid",
    "SE": "Europe/Stockholm",
    "IS": "Atlantic/Reykjavik",
    "LI": "Europe/Vaduz",
    "NO": "Europe/Oslo",
}

NOON = time(12, 0)


def zone(member_state: str) -> ZoneInfo:
    """The local time zone of a Member State (its capital's IANA zone).

    Args:
        member_state: ISO 3166 alpha-2 code, one of the 30 EU/EEA states.

    Returns:
        The zone.
    """
    return ZoneInfo(MEMBER_STATE_ZONES[member_state])


class WorkingDays:
    """Working days of one Member State: not Saturday, not Sunday, not a public holiday there.

    Public holidays come from the ``holidays`` library for the state (and a subdivision, where the entity
    names one), plus any extra bank holidays the entity configures.
    """

    def __init__(
        self, member_state: str, subdivision: str | None = None, extra_holidays: Iterable[date] = ()
    ) -> None:
        self.member_state = member_state
        self.zone = zone(member_state)
        self._holidays = holidays.country_holidays(member_state, subdiv=subdivision)
        self._extra = frozenset(extra_holidays)

    def holiday_name(self, day: date) -> str | None:
        """The name of the holiday on ``day``, or None on an ordinary day."""
        if day in self._extra:
            return "bank holiday (configured)"
        name = self._holidays.get(day)
        return str(name) if name else None

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` is neither a weekend day nor a holiday in the Member State."""
        return day.weekday() < 5 and self.holiday_name(day) is None

    def non_working_reason(self, day: date) -> str | None:
        """Why ``day`` is not a working day (``"Saturday"``, a holiday's name), or None if it is one."""
        if day.weekday() >= 5:
            return day.strftime("%A")
        return self.holiday_name(day)

    def next_working_noon(self, moment: datetime) -> datetime:
        """Noon, local time, of the first working day after the local date of ``moment``."""
        day = moment.astimezone(self.zone).date() + timedelta(days=1)
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return datetime.combine(day, NOON, tzinfo=self.zone)


def add_months(moment: datetime, months: int, tz: ZoneInfo) -> datetime:
    """The same local wall-clock time ``months`` calendar months later, clamped to the month's last day.

    Args:
        moment: An aware datetime.
        months: Number of calendar months to add.
        tz: The zone whose calendar and wall clock count.

    Returns:
        The aware datetime in ``tz``.
    """
    local = moment.astimezone(tz)
    index = local.month - 1 + months
    year, month = local.year + index // 12, index % 12 + 1
    next_first = date(year + (month // 12), month % 12 + 1, 1)
    last_day = (next_first - timedelta(days=1)).day
    wall = local.replace(tzinfo=None).replace(year=year, month=month, day=min(local.day, last_day))
    return wall.replace(tzinfo=tz)
