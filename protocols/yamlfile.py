"""Read YAML while remembering the line of every key, so errors can point at it.

The file is parsed once, by libyaml's C parser when PyYAML has it (40 times faster than the
pure-Python one on the protocol files): the node tree gives the lines, and the data is
constructed from that same tree.

Protocol and scenario files may come from anyone, so the input is bounded before it costs
anything: at most MAX_BYTES read (a device such as /dev/zero returns at once), regular files
only, UTF-8 without NUL characters, no !!binary, !!set, !!omap or !!pairs values (a case
pins its protocol as JSON), no anchors or aliases (an alias bomb expands
exponentially; no shipped file uses them), at most MAX_DEPTH levels of nesting, integers of at
most MAX_DIGITS digits and only dates that exist. Each refusal is a ProtocolFileError naming
the file and the line.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from protocols.errors import Problem, ProtocolFileError

Loc = tuple[str | int, ...]

MAX_BYTES = 2 * 1024 * 1024  # the largest shipped protocol is 64 KB
MAX_DEPTH = 50  # levels of nesting; the deepest shipped file has 12
MAX_DIGITS = 18  # digits of an integer (fits in 64 bits)

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[misc]
    """A safe loader that refuses duplicate keys (a silent overwrite would hide a typo),
    NUL characters, integers longer than MAX_DIGITS and dates that do not exist."""


class _Refused(yaml.constructor.ConstructorError):
    """A value this loader refuses (its message is the whole story)."""


def _refuse(node: yaml.Node, message: str) -> _Refused:
    return _Refused(None, None, message, node.start_mark)


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise _refuse(key_node, f"duplicate key {key!r} (first on line {seen[key]})")
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


def _construct_int(loader: _Loader, node: yaml.ScalarNode) -> int:
    digits = sum(c.isdigit() for c in str(node.value))
    if digits > MAX_DIGITS:
        raise _refuse(node, f"an integer of {digits} digits; at most {MAX_DIGITS} are allowed")
    try:
        value: int = loader.construct_yaml_int(node)
    except ValueError:
        raise _refuse(node, f"{node.value!r} is not an integer") from None
    return value


def _construct_timestamp(loader: _Loader, node: yaml.ScalarNode) -> date | datetime:
    try:
        value: date | datetime = loader.construct_yaml_timestamp(node)
    except (ValueError, OverflowError):
        raise _refuse(node, f"{node.value!r} is not a real date or time") from None
    return value


def _construct_str(loader: _Loader, node: yaml.ScalarNode) -> str:
    value: str = loader.construct_yaml_str(node)
    if "\x00" in value:
        raise _refuse(node, "a NUL character (\\0) in a text; remove it")
    return value


def _construct_foreign(loader: _Loader, node: yaml.Node) -> Any:
    tag = node.tag.rsplit(":", 1)[-1]
    raise _refuse(node, f"a !!{tag} value; use text, numbers, lists and mappings")


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
for _tag in ("binary", "set", "omap", "pairs"):  # nothing JSON can hold (cases pin JSON)
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _construct_foreign)
_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)
_Loader.add_constructor("tag:yaml.org,2002:str", _construct_str)


def _lines(name: str, root: yaml.Node) -> dict[Loc, int]:
    """The line of every path, walking the node tree without recursion.

    A node met twice is an alias (the composer shares the anchored node): refused here,
    before anything expands it.
    """
    out: dict[Loc, int] = {}
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, Loc, int]] = [(root, (), 1)]
    while stack:
        node, loc, depth = stack.pop()
        line = node.start_mark.line + 1
        if id(node) in seen:
            raise ProtocolFileError(
                name,
                [
                    Problem(
                        dotted(loc),
                        "anchors and aliases (&name, *name) are not allowed; write the value out",
                        line,
                    )
                ],
            )
        seen.add(id(node))
        if depth > MAX_DEPTH:
            message = f"nested deeper than {MAX_DEPTH} levels"
            raise ProtocolFileError(name, [Problem(dotted(loc), message, line)])
        out.setdefault(loc, line)
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.CollectionNode):
                    message = "a key must be a plain value, not a list or mapping"
                    raise ProtocolFileError(
                        name, [Problem(dotted(loc), message, key_node.start_mark.line + 1)]
                    )
                child = (*loc, key_node.value)
                out[child] = key_node.start_mark.line + 1
                stack.append((value_node, child, depth + 1))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                stack.append((item, (*loc, index), depth + 1))
    return out


class YamlDocument:
    """A parsed YAML file: its data and the line where each path starts."""

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        if len(text) > MAX_BYTES:
            raise _file_error(name, f"larger than {MAX_BYTES // 1024 // 1024} MB; refused")
        nul = text.find("\x00")
        if nul >= 0:
            at = text.count("\n", 0, nul) + 1
            raise ProtocolFileError(name, [Problem("", "a NUL character; remove it", at)])
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            self._lines = _lines(name, node) if node is not None else {}
            self.data: Any = loader.construct_document(node) if node is not None else None
        except _Refused as exc:
            where = exc.problem_mark.line + 1 if exc.problem_mark else None
            raise ProtocolFileError(name, [Problem("", str(exc.problem), where)]) from None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else None
            raise ProtocolFileError(
                name, [Problem("", f"not valid YAML: {exc.problem or exc}", line)]
            ) from None
        except yaml.reader.ReaderError as exc:
            at = text.count("\n", 0, exc.position) + 1
            message = f"character #x{exc.character:04x} at position {exc.position} is not allowed"
            raise ProtocolFileError(name, [Problem("", message, at)]) from None
        except yaml.YAMLError as exc:
            raise _file_error(name, f"not valid YAML: {exc}") from None
        finally:
            loader.dispose()

    @classmethod
    def read(cls, path: Path) -> YamlDocument:
        return cls(str(path), decode(str(path), read_bytes(path)))

    def line(self, loc: Sequence[str | int]) -> int | None:
        """The line of the longest prefix of `loc` that exists in the file."""
        loc = tuple(loc)
        while loc:
            if loc in self._lines:
                return self._lines[loc]
            loc = loc[:-1]
        return self._lines.get(())

    def problem(self, loc: Sequence[str | int], message: str) -> Problem:
        return Problem(dotted(loc), message, self.line(loc))


def _file_error(name: str, message: str) -> ProtocolFileError:
    return ProtocolFileError(name, [Problem("", message)])


def read_bytes(path: Path) -> bytes:
    """At most MAX_BYTES of a regular file: a device, a FIFO or a directory is refused."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise _file_error(str(path), f"cannot read: {exc.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise _file_error(str(path), "not a regular file; give a .yaml file")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise _file_error(str(path), f"cannot read: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(raw) > MAX_BYTES:
        raise _file_error(str(path), f"larger than {MAX_BYTES // 1024 // 1024} MB; refused")
    return raw


def decode(name: str, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        message = f"not UTF-8 text (byte {exc.start}); save the file as UTF-8"
        raise ProtocolFileError(name, [Problem("", message, line)]) from None


def dotted(loc: Sequence[str | int]) -> str:
    """Render a location as `tracks.care.transitions[2].to`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
