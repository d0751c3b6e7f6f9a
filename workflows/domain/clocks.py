"""Clocks: the system's, and a simulated one the scenario runner moves by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class SimulatedClock:
    """A clock that only moves when told to (scenarios, tests)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("a simulated clock starts at an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def __deepcopy__(self, memo: dict[int, object]) -> SimulatedClock:
        """There is one time: copies of what holds the clock (Streamlit's AppTest deep-copies
        session state) share it, so moving it moves it for everyone."""
        return self
