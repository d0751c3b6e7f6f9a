"""Bounds on HSDS input, checked before anything else reads it.

An HSDS directory may come from anyone. A file is read only if it is a regular file of at
most MAX_FILE_BYTES; JSON is parsed with integers of at most MAX_DIGITS digits, no NaN or
Infinity, and nesting of at most MAX_DEPTH levels (deeper would exhaust Python's stack in
the parser or the schema validator). Each row or object is then checked for NUL characters
(SQLite stores them, PostgreSQL refuses the whole statement), texts longer than MAX_TEXT
and numbers too large to store; a row that breaks a bound is reported and skipped, and the
rest imports, the same on both databases.
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from typing import Any

MAX_FILE_BYTES = 20 * 1024 * 1024  # the official 3.0 examples are under 100 KB
MAX_DEPTH = 32  # levels of JSON nesting; a full organization with services has 8
MAX_DIGITS = 18  # digits of an integer (fits in 64 bits)
MAX_TEXT = 4000  # characters in one field (names are at most 200: Institution.problems)


class LimitExceeded(ValueError):
    """A file or value is beyond the bounds above; the message says which."""


def check_file(path: Path) -> None:
    """Refuse a path that is not a regular file or is larger than MAX_FILE_BYTES."""
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise LimitExceeded("not a regular file")
    if info.st_size > MAX_FILE_BYTES:
        raise LimitExceeded(f"larger than {MAX_FILE_BYTES // 1024 // 1024} MB")


def read_json(path: Path) -> Any:
    """A JSON file within the bounds (UTF-8, an optional byte-order mark)."""
    check_file(path)
    with path.open("rb") as handle:
        raw = handle.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise LimitExceeded(f"larger than {MAX_FILE_BYTES // 1024 // 1024} MB")
    text = raw.decode("utf-8-sig")
    try:
        doc = json.loads(text, parse_int=_integer, parse_constant=_constant)
    except RecursionError:
        raise LimitExceeded(f"nested deeper than {MAX_DEPTH} levels") from None
    if depth(doc) > MAX_DEPTH:
        raise LimitExceeded(f"nested deeper than {MAX_DEPTH} levels")
    return doc


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise LimitExceeded(f"an integer of {len(text.lstrip('-'))} digits; at most {MAX_DIGITS}")
    return int(text)


def _constant(text: str) -> float:
    raise LimitExceeded(f"{text} is not a JSON number")


def depth(value: Any) -> int:
    """How deeply lists and objects nest (a scalar is 0), without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        node, level = stack.pop()
        children = (
            node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        )
        if children is None:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def problems(obj: Any) -> list[str]:
    """What in an object (a CSV row or a JSON object) breaks a bound, one message per field."""
    out: list[str] = []
    if depth(obj) > MAX_DEPTH:
        return [f"nested deeper than {MAX_DEPTH} levels"]
    stack: list[tuple[str, Any]] = [("", obj)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, dict):
            for key, child in value.items():
                if "\x00" in str(key) or len(str(key)) > MAX_TEXT:
                    out.append(
                        f"{where or 'a'} key with a NUL character or over {MAX_TEXT} characters"
                    )
                    continue
                stack.append((f"{where}/{key}" if where else str(key), child))
        elif isinstance(value, list):
            stack.extend((f"{where}/{n}", child) for n, child in enumerate(value))
        elif isinstance(value, str):
            if "\x00" in value:
                out.append(f"{where}: a NUL character; remove it")
            elif len(value) > MAX_TEXT:
                out.append(f"{where}: {len(value)} characters; at most {MAX_TEXT}")
        elif isinstance(value, int) and not isinstance(value, bool):
            if abs(value) >= 10**MAX_DIGITS:
                out.append(f"{where}: an integer of more than {MAX_DIGITS} digits")
        elif isinstance(value, float) and not math.isfinite(value):
            out.append(f"{where}: {value} is not a number that can be stored")
    return sorted(out)
