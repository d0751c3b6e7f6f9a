"""Load a protocol file: YAML -> pydantic model -> validation rules, every problem located."""

from __future__ import annotations

import hashlib
import json
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from protocols.errors import Problem, ProtocolFileError
from protocols.schema import LOCALES, Protocol
from protocols.validate import check
from protocols.yamlfile import Loc, YamlDocument, decode, dotted, read_bytes


@dataclass(frozen=True, slots=True)
class LoadedProtocol:
    """A validated protocol with the exact content that cases pin."""

    protocol: Protocol
    content_hash: str
    definition: dict[str, Any]
    path: str

    @property
    def id(self) -> str:
        return self.protocol.id


def content_hash(definition: dict[str, Any]) -> str:
    """Hash of the canonical JSON of a definition: what a case is pinned to."""
    canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


# What each file's text loaded to, by path and content hash: a process that scans the
# protocols again (every CLI command, flow run and console session does) parses only what
# changed. A file that failed keeps its error, so a broken file is reported, not re-parsed.
_LOADED: dict[tuple[str, str], LoadedProtocol | ProtocolFileError] = {}


def load_file(path: Path) -> LoadedProtocol:
    """Load and validate one protocol file (once per content in a process).

    Raises:
        ProtocolFileError: listing every problem with its path inside the file and its line.
    """
    raw = read_bytes(path)
    key = (str(path), hashlib.sha256(raw).hexdigest())
    found = _LOADED.get(key)
    if found is None:
        try:
            found = from_document(YamlDocument(str(path), decode(str(path), raw)))
        except ProtocolFileError as exc:
            found = exc
        _LOADED[key] = found
    if isinstance(found, ProtocolFileError):
        raise ProtocolFileError(found.file, found.problems) from None
    return found


def from_text(name: str, text: str) -> LoadedProtocol:
    return from_document(YamlDocument(name, text))


def from_definition(definition: dict[str, Any], name: str = "<stored>") -> LoadedProtocol:
    """Rebuild a protocol from the copy a case pinned (already validated when stored)."""
    return LoadedProtocol(
        Protocol.model_validate(definition), content_hash(definition), definition, name
    )


def from_document(doc: YamlDocument) -> LoadedProtocol:
    if not isinstance(doc.data, dict):
        raise ProtocolFileError(doc.name, [doc.problem((), "a protocol file is a YAML mapping")])
    try:
        protocol = Protocol.model_validate(doc.data)
    except ValidationError as exc:
        problems = [_problem(doc, err) for err in exc.errors()]
        raise ProtocolFileError(doc.name, problems) from None
    problems = [doc.problem(loc, message) for loc, message in check(protocol)]
    if problems:
        raise ProtocolFileError(doc.name, sorted(problems, key=lambda p: p.line or 0))
    return LoadedProtocol(protocol, content_hash(doc.data), doc.data, doc.name)


def _problem(doc: YamlDocument, err: ErrorDetails) -> Problem:
    loc = _data_loc(doc.data, err["loc"])
    return doc.problem(loc, _message(err, loc))


def _data_loc(data: Any, loc: tuple[str | int, ...]) -> Loc:
    """Drop the union-branch tags pydantic puts in a location; keep what exists in the data."""
    out: list[str | int] = []
    node = data
    for part in loc:
        if _has(node, part):
            node = node[part]
            out.append(part)
        elif isinstance(node, dict) and isinstance(part, str) and part.isidentifier():
            # a missing or unknown key: name it, it is the point of the message
            out.append(part)
            node = None
    return tuple(out)


def _has(node: Any, part: str | int) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and part < len(node)


def _message(err: ErrorDetails, loc: Loc) -> str:
    kind, msg = err["type"], err["msg"]
    field = loc[-1] if loc else ""
    if kind == "missing":
        if field in LOCALES:
            return f"missing translation '{field}'; every label needs {', '.join(LOCALES)}"
        return f"required key '{field}' is missing"
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        hint = f"; allowed: {', '.join(allowed)}" if allowed else ""
        return f"unknown key '{field}'{hint}"
    if kind == "string_pattern_mismatch" and "a-z0-9_" in str(err.get("ctx", {})):
        return f"{err['input']!r} is not an identifier; use lower-case letters, digits and _"
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    return f"{msg} (got {err['input']!r})" if "input" in err else msg


def _allowed_keys(loc: Loc) -> list[str]:
    """The keys the schema allows at a location, found by walking the model types."""
    tp: Any = Protocol
    for part in loc:
        tp = _step(tp, part)
        if tp is None:
            return []
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [f.alias or name for name, f in tp.model_fields.items()]
    return []


def _step(tp: Any, part: str | int) -> Any:
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        for name, field in tp.model_fields.items():
            if part in (name, field.alias):
                return _unwrap(field.annotation)
        return None
    origin = typing.get_origin(tp)
    if origin is dict:
        return _unwrap(typing.get_args(tp)[1])
    if origin is list:
        return _unwrap(typing.get_args(tp)[0])
    return None


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def describe(file: str, error: ProtocolFileError) -> str:
    """The text the CLI prints for a rejected file."""
    return "\n".join(p.render(file) for p in error.problems)


__all__ = ["LoadedProtocol", "content_hash", "dotted", "from_definition", "load_file"]
