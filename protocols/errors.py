"""Errors of the protocols package.

ProtocolError
 ├── ProtocolFileError      a file that cannot be loaded or breaks a rule (lists every problem)
 └── UnknownProtocol        (also LookupError) no published protocol with that id or hash
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a protocol file, located by path and line."""

    path: str
    message: str
    line: int | None = None

    def render(self, file: str) -> str:
        where = f"{file}:{self.line}" if self.line else file
        at = f" at {self.path}" if self.path else ""
        return f"{where}:{at}: {self.message}"


class ProtocolError(Exception):
    """Base of the errors raised by protocols/."""


class ProtocolFileError(ProtocolError):
    """A protocol or scenario file is malformed or breaks a validation rule."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.file = file
        self.problems = problems
        lines = "\n".join(p.render(file) for p in problems)
        super().__init__(f"{file} is not valid ({len(problems)} problem(s)):\n{lines}")


class UnknownProtocol(ProtocolError, LookupError):
    """No protocol with the requested id (or pinned content hash) is known."""
