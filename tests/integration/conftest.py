"""Helpers of the integration tests that drive the `ruta` command in-process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from ruta import bootstrap
from ruta.cli import app


def cli(*args: str) -> tuple[int, str]:
    """`ruta ARGS` in-process: its exit code and what it printed."""
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


@pytest.fixture
def kept_engines(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Engine]]:
    """The engines the command makes (`bootstrap.engine`), closed with its wiring at the end."""
    engines: list[Engine] = []
    made = bootstrap.engine

    def kept(cfg=None):
        engines.append(made(cfg))
        return engines[-1]

    monkeypatch.setattr(bootstrap, "engine", kept)
    yield engines
    bootstrap._WIRED.clear()
    for engine in engines:
        engine.dispose()
    bootstrap.settings.cache_clear()
