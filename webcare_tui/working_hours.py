"""Provides `WorkingHours`: when an agent works ("mon-fri 08:30-17:00, sat 10:00-14:00"), in local time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_PART = re.compile(r"^(?P<first>[a-z]{3})(?:-(?P<last>[a-z]{3}))?\s+(?P<start>\d{1,2}:\d{2})-(?P<end>\d{1,2}:\d{2})$")


class HoursError(ValueError):
    """The hours text cannot be read; the message shows the expected form."""


def _clock(text: str, whole: str) -> time:
    hours, minutes = (int(part) for part in text.split(":"))
    if hours == 24 and minutes == 0:
        return time.max
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise HoursError(f"{text!r} in {whole!r} is not a time of day")
    return time(hours, minutes)


@dataclass(frozen=True)
class WorkingHours:
    """Per weekday (0 = Monday) the (start, end) spans of work, in `timezone`."""

    spans: tuple[tuple[tuple[time, time], ...], ...]
    timezone: ZoneInfo

    @classmethod
    def parse(cls, text: str, timezone: str = "Europe/Amsterdam") -> WorkingHours:
        """Read "mon-fri 08:30-17:00, sat 10:00-14:00".

        Raises:
            HoursError: in plain words.
        """
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise HoursError(f"{timezone!r} is not a time zone (e.g. \"Europe/Amsterdam\")") from None
        days: list[list[tuple[time, time]]] = [[] for _ in DAYS]
        for part in filter(None, (piece.strip().lower() for piece in text.split(","))):
            match = _PART.match(part)
            if not match or match["first"] not in DAYS or (match["last"] and match["last"] not in DAYS):
                raise HoursError(f"{part!r} is not like \"mon-fri 08:30-17:00\" (days: {', '.join(DAYS)})")
            first = DAYS.index(match["first"])
            last = DAYS.index(match["last"] or match["first"])
            start, end = _clock(match["start"], text), _clock(match["end"], text)
            if end <= start:
                raise HoursError(f"in {part!r} the end comes before the start")
            for day in range(first, last + 1) if first <= last else [*range(first, 7), *range(0, last + 1)]:
                days[day].append((start, end))
        if not any(days):
            raise HoursError(f"{text!r} names no working hours (e.g. \"mon-fri 08:30-17:00\")")
        return cls(tuple(tuple(sorted(spans)) for spans in days), zone)

    def is_working(self, epoch: float) -> bool:
        moment = datetime.fromtimestamp(epoch, self.timezone)
        now = moment.time()
        return any(start <= now < end for start, end in self.spans[moment.weekday()])
