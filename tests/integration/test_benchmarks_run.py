"""The benchmark scripts keep running as the code changes (no timing is asserted here)."""

from __future__ import annotations

from benchmarks import fire


def test_fire_benchmark_runs(capsys):
    fire.main(runs=3)
    assert "fire admit_immediate" in capsys.readouterr().out
