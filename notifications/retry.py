"""When to try a failed message again: exponential backoff with full jitter."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

_MIN_DELAY = 1.0
# 2**62 * base overflows nothing and is far above any sane cap.
_MAX_EXPONENT = 62
_rng = random.Random()


def backoff(
    attempts: int,
    now: datetime,
    *,
    base: float = 30.0,
    cap: float = 3600.0,
    rng: random.Random | None = None,
) -> datetime:
    """``now`` plus a random delay in ``[0, min(cap, base * 2**attempts)]`` seconds, at least 1 s.

    ``attempts`` counts the failures so far (0 before the first). Full jitter spreads out
    workers that failed together, so they do not retry in lockstep.
    """
    if attempts < 0:
        raise ValueError(f"backoff attempts must be >= 0, got {attempts}.")
    if base <= 0 or cap <= 0:
        raise ValueError(f"backoff base and cap must be positive, got base={base}, cap={cap}.")
    ceiling = min(cap, base * 2 ** min(attempts, _MAX_EXPONENT))
    delay = (rng or _rng).uniform(0.0, ceiling)
    return now + timedelta(seconds=max(_MIN_DELAY, delay))
