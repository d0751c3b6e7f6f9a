"""Fuzz the readers of outside input with mutated copies of the shipped files.

Mutants of the protocols (through the loader and validator), the scenarios (through the
scenario runner) and the HSDS example directories (through the import): byte flips,
truncations, duplicated and deleted blocks, inserted anchors and aliases. Each mutant either
loads or is refused with the project's own error type, never anything else and never a hang.
Seeded: a fixed seed by default, FUZZ_SEED=<n> reproduces a run (the seed is in every
failure message), FUZZ_SEED=random tries a fresh one.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import pytest

from institutions.hsds import HsdsError, read_hsds
from protocols.errors import ProtocolError
from protocols.loader import load_file
from protocols.registry import Registry
from ruta import bootstrap
from ruta.scenarios import run_file

ROOT = Path(__file__).parents[2]
PROTOCOLS = sorted((ROOT / "protocols" / "countries").glob("*.yaml"))
SCENARIOS = sorted((ROOT / "protocols" / "scenarios").glob("*.yaml"))
HSDS = [
    ROOT / "tests" / "fixtures" / "hsds-3" / f"examples-{kind}" for kind in ("csv", "csv", "json")
]
# a fixed seed keeps CI repeatable; FUZZ_SEED=random explores a fresh one (then record any
# failing seed's fix with a test)
_SEED = os.environ.get("FUZZ_SEED", "20261205")
SEED = random.SystemRandom().randrange(1_000_000) if _SEED == "random" else int(_SEED)
PER_MUTANT_SECONDS = 10.0  # wall clock: a hang, not a slow machine
BUDGET_SECONDS = 30.0  # CPU seconds of the whole run (about 12 on an idle 2-core machine)


# values a field may be given instead of what it expects
RETYPED = [
    b"[]",
    b"{}",
    b"null",
    b"[1, [2]]",
    b"{a: {b: c}}",
    b"-1",
    b"0",
    b"99999999999999999",
    b"1e999",
    b".nan",
    b"2026-02-30",
    b"2026-02-28",
    b"true",
    b'"\\0"',
    b'"9999999 days"',
    b"*undefined",
    b"!!binary aGVsbG8=",
    b"!!python/object:os.system [ls]",
    b'"' + b"x" * 5000 + b'"',
]


class Hung(Exception):
    pass


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Interrupt the body if it runs longer than `seconds` (a hang is a failure, not a wait)."""

    def interrupt(_signum: int, _frame: object) -> None:
        raise Hung(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def mutate(raw: bytes, rng: random.Random) -> tuple[bytes, str]:
    """One to three random mutations of a file's bytes, and what they were."""
    done = []
    for _ in range(rng.randint(1, 3)):
        kind = rng.choice(
            ["flip", "truncate", "duplicate", "delete", "alias", "bomb", "nest", "retype"]
        )
        lines = raw.split(b"\n")
        if kind == "flip" and raw:
            at = rng.randrange(len(raw))
            raw = raw[:at] + bytes([rng.randrange(256)]) + raw[at + 1 :]
        elif kind == "truncate" and raw:
            raw = raw[: rng.randrange(len(raw))]
        elif kind in ("duplicate", "delete") and len(lines) > 2:
            start = rng.randrange(len(lines) - 1)
            block = lines[start : start + rng.randint(1, 12)]
            if kind == "delete":
                del lines[start : start + len(block)]
            else:
                at = rng.randrange(len(lines))
                lines[at:at] = block
            raw = b"\n".join(lines)
        elif kind == "alias" and len(lines) > 2:
            values = [n for n, line in enumerate(lines) if b": " in line]
            if len(values) >= 2:
                anchor, alias = rng.sample(values, 2)
                key, _, value = lines[anchor].partition(b": ")
                lines[anchor] = key + b": &fuzz " + value
                key, _, _ = lines[alias].partition(b": ")
                lines[alias] = key + b": *fuzz"
                raw = b"\n".join(lines)
        elif kind == "retype" and len(lines) > 2:
            values = [n for n, line in enumerate(lines) if b": " in line]
            if values:
                at = rng.choice(values)
                key, _, _ = lines[at].partition(b": ")
                lines[at] = key + b": " + rng.choice(RETYPED)
                raw = b"\n".join(lines)
        elif kind == "bomb":
            raw += b"\nlol: &a [x, x, x, x, x, x, x, x]\n" + b"".join(
                f"l{n}: &{chr(98 + n)} [{', '.join([f'*{chr(97 + n)}'] * 8)}]\n".encode()
                for n in range(8)
            )
        elif kind == "nest":
            depth = rng.choice([60, 900, 5000])
            at = rng.randrange(len(raw) + 1)
            raw = raw[:at] + b"[" * depth + b"]" * depth + raw[at:]
        done.append(kind)
    return raw, "+".join(done) or "none"


def check(
    what: str, run: Callable[[], object], allowed: tuple[type[BaseException], ...], seed: int
) -> None:
    """Run one mutant: it may load or raise an allowed error; anything else fails the test."""
    try:
        with deadline(PER_MUTANT_SECONDS):
            run()
    except allowed:
        pass
    except Hung as exc:
        pytest.fail(f"{what} hung ({exc}); reproduce with FUZZ_SEED={seed}")
    except Exception as exc:
        pytest.fail(
            f"{what} raised {type(exc).__name__}: {str(exc)[:300]}; reproduce with FUZZ_SEED={seed}"
        )


def test_mutated_files_load_or_are_refused_with_the_projects_errors(tmp_path):
    rng = random.Random(SEED)
    registry = Registry.scan()
    started = time.process_time()
    counts = {"protocol": 0, "scenario": 0, "hsds": 0}

    for n in range(110):
        source = rng.choice(PROTOCOLS)
        raw, how = mutate(source.read_bytes(), rng)
        path = tmp_path / f"protocol-{n}.yaml"
        path.write_bytes(raw)
        what = f"protocol mutant {n} of {source.name} ({how})"
        check(what, partial(load_file, path), (ProtocolError,), SEED)
        counts["protocol"] += 1

    for n in range(90):
        source = rng.choice(SCENARIOS)
        raw, how = mutate(source.read_bytes(), rng)
        path = tmp_path / f"scenario-{n}.yaml"
        path.write_bytes(raw)
        what = f"scenario mutant {n} of {source.name} ({how})"
        run = partial(run_file, str(path), registry, bootstrap.memory_scenario_services)
        check(what, run, (ProtocolError,), SEED)
        counts["scenario"] += 1

    for n in range(50):
        source = rng.choice(HSDS)  # CSV twice as often: validating JSON costs 8 times more
        target = tmp_path / f"hsds-{n}"
        shutil.copytree(source, target)
        files = sorted(p for p in target.iterdir() if p.suffix in (".csv", ".json"))
        hows = []
        for victim in rng.sample(files, rng.randint(1, 3)):
            raw, how = mutate(victim.read_bytes(), rng)
            victim.write_bytes(raw)
            hows.append(f"{victim.name}: {how}")
        what = f"HSDS mutant {n} of {source.name} ({'; '.join(hows)})"
        check(what, partial(read_hsds, target), (HsdsError,), SEED)
        counts["hsds"] += 1

    elapsed = time.process_time() - started
    assert sum(counts.values()) == 250
    assert elapsed < BUDGET_SECONDS, f"{elapsed:.1f} s for {counts}; FUZZ_SEED={SEED}"
