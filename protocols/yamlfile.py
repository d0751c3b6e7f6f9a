"""Read YAML while remembering the line of every key, so errors can point at it.

The file is parsed once, by libyaml's C parser when PyYAML has it (40 times faster than the
pure-Python one on the protocol files): the node tree gives the lines, and the data is
constructed from that same tree.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from protocols.errors import Problem, ProtocolFileError

Loc = tuple[str | int, ...]


_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[misc]
    """A safe loader that refuses duplicate keys: a silent overwrite would hide a typo."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first on line {seen[key]})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _lines(node: yaml.Node, loc: Loc, out: dict[Loc, int]) -> None:
    out[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = (*loc, key_node.value)
            _lines(value_node, child, out)
            out[child] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _lines(item, (*loc, index), out)


class YamlDocument:
    """A parsed YAML file: its data and the line where each path starts."""

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            self.data: Any = loader.construct_document(node) if node is not None else None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark else None
            raise ProtocolFileError(
                name, [Problem("", f"not valid YAML: {exc.problem or exc}", line)]
            ) from None
        finally:
            loader.dispose()
        self._lines: dict[Loc, int] = {}
        if node is not None:
            _lines(node, (), self._lines)

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


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ProtocolFileError(str(path), [Problem("", f"cannot read: {exc.strerror}")]) from None


def decode(name: str, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtocolFileError(
            name, [Problem("", f"not UTF-8 text (byte {exc.start}); save the file as UTF-8")]
        ) from None


def dotted(loc: Sequence[str | int]) -> str:
    """Render a location as `tracks.care.transitions[2].to`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
