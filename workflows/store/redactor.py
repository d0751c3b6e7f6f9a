"""The log redactor: the personal values this process handled lately, struck from log lines.

The vault (vault.py) tells it every value it seals or opens; ruta/logs.py runs every log
record through `redact`. Matching is on a normalised form, so a value written another way is
struck too: case and accents never count (NFKD, combining marks dropped, casefold), runs of
spaces count as one, and in a value with a digit (a document or phone number) spaces, dots,
dashes and other separators do not count at all: `AB-123.456` strikes `ab 123456`, `María
José` strikes `MARIA  JOSE`, `+57 300 123 4567` strikes `57-300-1234567`.

Values shorter than 4 characters once normalised ("M", "EC") are not remembered: they could
not be told apart from ordinary words. A value is struck wherever it appears, also inside a
longer word (as `Rosa` in `Rosario`): a log line may lose a little too much, never too little.
"""

from __future__ import annotations

import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable

MASK = "[redacted]"


def fold(text: str, compact: bool) -> tuple[str, list[int]]:
    """The normalised text, and for each of its characters the index it came from in `text`.

    `compact` drops every character that is not a letter or a digit (document and phone
    numbers); otherwise a run of white space becomes one space.
    """
    out: list[str] = []
    origin: list[int] = []
    for i, char in enumerate(text):
        for part in unicodedata.normalize("NFKD", char):
            if unicodedata.combining(part):
                continue  # the accent of "é" after NFKD splits it into "e" and the accent
            for c in part.casefold():
                if compact and not c.isalnum():
                    continue
                if c.isspace():
                    if out and out[-1] == " ":
                        continue
                    c = " "
                out.append(c)
                origin.append(i)
    return "".join(out), origin


def _normal(value: str) -> tuple[str, bool]:
    compact = any(c.isdigit() for c in value)
    return fold(value, compact)[0].strip(), compact


class Redactor:
    """The personal values this process has handled lately (the newest `capacity`), to strike
    from log lines."""

    def __init__(self, capacity: int = 4096, shortest: int = 4) -> None:
        self._values: OrderedDict[tuple[str, bool], None] = OrderedDict()
        self._capacity = capacity
        self._shortest = shortest
        self._lock = threading.Lock()

    def remember(self, values: Iterable[str]) -> None:
        with self._lock:
            for value in values:
                key = _normal(value)
                if len(key[0]) < self._shortest:
                    continue  # "M", "EC": too short to be told apart from ordinary words
                self._values[key] = None
                self._values.move_to_end(key)
                while len(self._values) > self._capacity:
                    self._values.popitem(last=False)

    def redact(self, text: str) -> str:
        with self._lock:
            values = list(self._values)
        if not values or not text:
            return text
        spans: list[tuple[int, int]] = []
        for compact in (False, True):
            wanted = [v for v, c in values if c is compact]
            if not wanted:
                continue
            folded, origin = fold(text, compact)
            for value in wanted:
                at = folded.find(value)
                while at != -1:
                    spans.append((origin[at], origin[at + len(value) - 1] + 1))
                    at = folded.find(value, at + 1)
        if not spans:
            return text
        merged: list[list[int]] = []
        for start, end in sorted(spans):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        for start, end in reversed(merged):
            text = text[:start] + MASK + text[end:]
        return text


REDACTOR = Redactor()
