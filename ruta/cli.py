"""The `ruta` command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from institutions.store import SqlDirectory
from protocols.coverage import (
    coverage_rows,
    coverage_summary,
    parse_bases,
    render_rows,
    render_summary,
)
from protocols.coverage import select as select_rows
from protocols.errors import ProtocolFileError, UnknownProtocol
from protocols.loader import LoadedProtocol, load_file
from protocols.registry import Registry
from ruta import bootstrap, datadir, keys, logs
from ruta.cli_audit import app as audit_app
from ruta.cli_institutions import app as institutions_app
from ruta.cli_privacy import keys_app, purge
from ruta.cli_users import app as users_app
from ruta.db import current_revision, upgrade
from ruta.scenarios import run_file
from workflows.domain.case import OPEN_TASK_STATUSES
from workflows.engine.machine import diagram as draw
from workflows.services.dispatch import dispatch as send_outbox
from workflows.services.sweep import sweep as sweep_deadlines
from workflows.store import facts, tables
from workflows.store.vault import VaultError

app = typer.Typer(
    help="Ruta: executable national referral protocols.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
protocols_app = typer.Typer(
    help="Protocol files: list, validate, show, diagram.", no_args_is_help=True
)
scenario_app = typer.Typer(
    help="Protocol scenarios (executable acceptance tests).", no_args_is_help=True
)
app.add_typer(protocols_app, name="protocols")
app.add_typer(institutions_app, name="institutions")
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
app.add_typer(scenario_app, name="scenario")
app.add_typer(keys_app, name="keys")
compliance_app = typer.Typer(
    help="The compliance figures' read model (completed tasks, care states reached).",
    no_args_is_help=True,
)
app.add_typer(compliance_app, name="compliance")
app.command()(purge)

INVALID = 2  # exit status for invalid input (a broken file, an unknown id)


def _say(text: str = "") -> None:
    typer.echo(text)


def _fail(text: str, code: int = INVALID) -> typer.Exit:
    typer.echo(text, err=True)
    return typer.Exit(code)


@app.command()
def init() -> None:
    """Create the data directory and create or upgrade the database."""
    cfg = bootstrap.settings()
    bootstrap.make_home(cfg)
    engine = bootstrap.engine(cfg)
    try:
        keys.check_sealed_data(cfg, engine)  # never a new key next to data sealed under a lost one
        created = keys.ensure_key_file(cfg)
        vault = bootstrap.vault(cfg)
    except VaultError as exc:
        raise _fail(str(exc)) from None
    try:
        upgrade(engine, vault)
    except SQLAlchemyError as exc:
        raise _fail(
            f"Cannot prepare the database: {exc.__class__.__name__}: {exc.orig}"
            if hasattr(exc, "orig")
            else f"Cannot prepare the database: {exc}"
        ) from None
    _say(f"Data directory: {cfg.home.resolve()}")
    if created is not None:
        _say(f"Encryption key: generated {created.resolve()} (mode 0600; back it up privately)")
    else:
        source = "RUTA_SECRET_KEY" if cfg.secret_key is not None else str(keys.key_file(cfg))
        _say(f"Encryption key: {source} (sealing key {vault.primary_id})")
    _say(
        f"Database: {engine.url.render_as_string(hide_password=True)} "
        f"(schema revision {current_revision(engine)})"
    )
    with engine.connect() as conn:
        known = len(SqlDirectory(conn).institutions())
    if known == 0:  # the first init only: later directory edits are never overwritten
        _say(f"Directory: {bootstrap.seed_directory(engine)} seed institutions loaded")
    else:
        _say(f"Directory: {known} institutions")


@app.command()
def status() -> None:
    """Where things stand: protocols, database, cases and tasks."""
    cfg = bootstrap.settings()
    registry = bootstrap.registry(cfg)
    _say("Protocols:")
    for p in registry.loaded:
        pr = p.protocol
        _say(
            f"  {pr.id:<10} {pr.version:<8} {pr.status:<10} {len(pr.tracks)} tracks, "
            f"{_count_deadlines(p)} deadlines  ({Path(p.path).name})"
        )
    for broken in registry.broken:
        _say(
            f"  BROKEN {broken.file}: {len(broken.problems)} problem(s); "
            f"run `ruta protocols validate {broken.file}`"
        )
    engine = bootstrap.engine(cfg)
    with engine.connect() as conn:
        cases = conn.execute(select(func.count()).select_from(tables.cases)).scalar_one()
        open_ = conn.execute(
            select(func.count())
            .select_from(tables.tasks)
            .where(tables.tasks.c.status.in_(OPEN_TASK_STATUSES))
        ).scalar_one()
        overdue = conn.execute(
            select(func.count())
            .select_from(tables.tasks)
            .where(
                tables.tasks.c.status.in_(OPEN_TASK_STATUSES),
                tables.tasks.c.overdue_at.is_not(None),
            )
        ).scalar_one()
        gaps = conn.execute(
            select(func.count()).select_from(tables.tasks).where(tables.tasks.c.routing == "gap")
        ).scalar_one()
        directory = SqlDirectory(conn)
        institutions, users = len(directory.institutions()), len(directory.users())
    _say(f"Database: {engine.url.render_as_string(hide_password=True)}")
    _say(f"Directory: {institutions} institutions, {users} users; routing gaps: {gaps}")
    _say(f"Cases: {cases}; open tasks: {open_}; overdue: {overdue}")
    _say("Next: `ruta protocols show CO-TRATA`, `ruta scenario run protocols/scenarios/*.yaml`")


def _count_deadlines(p: LoadedProtocol) -> int:
    return sum(
        len(s.tasks) + (1 if s.deadline else 0)
        for t in p.protocol.tracks.values()
        for s in t.states.values()
    )


@protocols_app.command("list")
def protocols_list() -> None:
    """The protocol files Ruta knows, with their id, version and status."""
    registry = bootstrap.registry()
    _say(f"{'ID':<10} {'VERSION':<8} {'STATUS':<10} {'PROGRAMME':<12} FILE")
    for p in registry.loaded:
        pr = p.protocol
        _say(f"{pr.id:<10} {pr.version:<8} {pr.status:<10} {pr.programme:<12} {Path(p.path).name}")
    for broken in registry.broken:
        _say(f"{'?':<10} {'?':<8} {'BROKEN':<10} {'':<12} {broken.file}")
    if registry.broken:
        raise _fail("Broken files: run `ruta protocols validate FILE` for the details.")


@protocols_app.command("validate")
def protocols_validate(
    files: Annotated[list[Path], typer.Argument(help="Protocol YAML files")],
) -> None:
    """Check protocol files; exit 2 naming file, path, line and what is allowed."""
    bad = 0
    for path in files:
        try:
            loaded = load_file(path)
        except ProtocolFileError as exc:
            bad += 1
            typer.echo("\n".join(p.render(str(path)) for p in exc.problems), err=True)
            continue
        _say(
            f"{path}: ok ({loaded.id} {loaded.protocol.version}, "
            f"{len(loaded.protocol.tracks)} tracks)"
        )
    if bad:
        raise _fail(f"{bad} of {len(files)} file(s) invalid.")


def _find(protocol_id: str) -> LoadedProtocol:
    registry = bootstrap.registry()
    try:
        return registry.latest_published(protocol_id)
    except UnknownProtocol as exc:
        raise _fail(str(exc)) from None


@protocols_app.command("show")
def protocols_show(
    protocol_id: Annotated[str, typer.Argument(help="For example CO-TRATA")],
    locale: Annotated[str, typer.Option(help="es, pt or en")] = "es",
) -> None:
    """A protocol's tracks, states, tasks and deadlines with their legal sources."""
    loaded = _find(protocol_id)
    p = loaded.protocol
    _say(f"{p.id} {p.version} ({p.status}) - {p.title.get(locale)}")
    _say(f"Time zone {p.timezone}; holidays {p.calendar}; content hash {loaded.content_hash[:12]}")
    for source in p.legal_basis:
        _say(f"  basis: {source.ref}")
    for tname, track in p.tracks.items():
        opens = " (opens when conditions hold)" if track.opens_when else ""
        _say(f"\n[{tname}] {track.label.get(locale)}{opens}")
        for sname, state in track.states.items():
            mark = " (final)" if state.final else ""
            _say(f"  {sname}: {state.label.get(locale)}{mark}")
            if state.deadline:
                d = state.deadline
                ext = (
                    f"; extension {d.extension.by} x{d.extension.max} by {d.extension.approver}"
                    if d.extension
                    else ""
                )
                _say(f"    deadline {d.within} [{d.basis.value}: {d.source}]{ext}")
            for task in state.tasks:
                to = task.role or "the receiving country's coordinator (handoff)"
                _say(
                    f"    task {task.id} -> {to}: due {task.due.within} "
                    f"[{task.due.basis.value}: {task.due.source}]"
                )
        for tr in track.transitions:
            guard = f" if {len(tr.when)} condition(s)" if tr.when else ""
            _say(f"  {tr.trigger}: {', '.join(tr.sources)} -> {tr.to}{guard}")


@protocols_app.command("coverage")
def protocols_coverage(
    protocol_ids: Annotated[
        list[str] | None, typer.Argument(help="Protocol ids; default: all")
    ] = None,
    basis: Annotated[
        list[str] | None, typer.Option(help="Only legal, protocol or proposed (repeatable)")
    ] = None,
    summary: Annotated[bool, typer.Option("--summary", help="Only the counts by basis")] = False,
    width: Annotated[int, typer.Option(help="Clip sources to this many characters; 0: never")] = 80,
) -> None:
    """Every deadline (task, state, extension, retention) with its basis and source."""
    registry = bootstrap.registry()
    loaded = registry.loaded
    if protocol_ids:
        unknown = sorted(set(protocol_ids) - set(registry.ids()))
        if unknown:
            raise _fail(f"Unknown protocol {unknown[0]!r}; protocols: {', '.join(registry.ids())}.")
        loaded = [p for p in loaded if p.id in protocol_ids]
    try:
        bases = parse_bases(basis or [])
    except ValueError as exc:
        raise _fail(f"{exc}.") from None
    if summary:
        _say(render_summary(coverage_summary(loaded)))
        return
    rows = select_rows(coverage_rows(loaded), bases=bases)
    _say(render_rows(rows, source_width=width or None))
    _say(f"\n{len(rows)} deadline(s).")


@protocols_app.command("diagram")
def protocols_diagram(
    protocol_id: Annotated[str, typer.Argument(help="For example CO-TRATA")],
    track: Annotated[str | None, typer.Option(help="One track; default: all")] = None,
    fmt: Annotated[str, typer.Option("--format", help="dot or mermaid")] = "dot",
) -> None:
    """Draw tracks with transitions' GraphMachine (DOT or mermaid text)."""
    if fmt not in ("dot", "mermaid"):
        raise _fail(f"Unknown format {fmt!r}; allowed: dot, mermaid.")
    loaded = _find(protocol_id)
    names = list(loaded.protocol.tracks)
    if track is not None and track not in names:
        raise _fail(f"{protocol_id} has no track {track!r}; tracks: {', '.join(names)}.")
    for name in [track] if track else names:
        _say(draw(loaded, name, "mermaid" if fmt == "mermaid" else "dot", conditions=True))


@scenario_app.command("run")
def scenario_run(
    files: Annotated[list[Path], typer.Argument(help="Scenario YAML files")],
) -> None:
    """Run scenarios on a fresh in-memory database; exit 0 only if every step passes, 1 if a
    step failed, 2 if a file is malformed."""
    registry: Registry = bootstrap.registry()
    failed = invalid = 0
    for path in files:
        try:
            result = run_file(str(path), registry, bootstrap.scenario_services)
        except ProtocolFileError as exc:
            failed += 1
            invalid += 1
            typer.echo("\n".join(p.render(str(path)) for p in exc.problems), err=True)
            continue
        verdict = "PASS" if result.passed else "FAIL"
        _say(f"{verdict} {path} - {result.name}")
        for step in result.steps:
            _say(f"  {'ok  ' if step.ok else 'FAIL'} {step.index:>2}. {step.summary}")
            for diff in step.differences:
                _say(f"         {diff}")
        failed += not result.passed
    total = len(files)
    _say(f"\n{total - failed} passed, {failed} failed")
    if invalid:
        raise typer.Exit(INVALID)  # a file that cannot run at all, as `protocols validate`
    if failed:
        raise typer.Exit(1)


@app.command()
def demo(
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="Do nothing (exit 0) if there are cases already")
    ] = False,
) -> None:
    """Load synthetic demo cases (seven countries, every stage) and one demo user per role."""
    cfg = bootstrap.settings()
    engine = bootstrap.engine(cfg)
    with engine.connect() as conn:
        cases = conn.execute(select(func.count()).select_from(tables.cases)).scalar_one()
    saved = cfg.home / "demo-users.txt"
    if cases and if_empty:
        _say(f"The database already has {cases} case(s); no demo data loaded.")
        if saved.exists():
            _say(f"Demo sign-ins ({saved}):")
            for line in saved.read_text(encoding="utf-8").splitlines():
                name, _tab, password = line.partition("\t")
                _say(f"  {name:<14} {password}")
        return
    if cases:
        raise _fail(
            f"The database already has {cases} case(s); the demo loads only into an empty one "
            f"(a fresh RUTA_HOME). Demo sign-ins, if loaded before: {cfg.home / 'demo-users.txt'}",
            code=1,
        )
    from ruta.demo import load_demo

    result = load_demo(engine, bootstrap.registry(cfg), cfg.home, bootstrap.vault(cfg))
    _say(f"Demo: {result.cases} synthetic cases in AR, BO, BR, CO, EC, PE and PY.")
    _say("Demo sign-ins (also in " + str(result.credentials) + "):")
    for name, password in result.users.items():
        _say(f"  {name:<14} {password}")


@app.command()
def sweep() -> None:
    """Run one deadline sweep: reminders, overdue marks, escalations, deadline expiries."""
    report = sweep_deadlines(bootstrap.services())
    skipped = f"; {len(report.skipped)} busy elsewhere" if report.skipped else ""
    _say(f"Swept {report.cases} case(s): {report.handled} rung(s) or deadline(s) handled{skipped}")
    if report.failed:
        _say(f"{len(report.failed)} case(s) left as they were, still due:")
        for line in report.failed:
            _say(f"  {line}")
        raise typer.Exit(1)


@app.command()
def dispatch(
    limit: Annotated[
        int, typer.Option(min=1, max=10_000, help="Most messages to send in this run")
    ] = 500,
) -> None:
    """Send what is pending in the outbox (SendGrid, or .eml files under RUTA_HOME/outbox/)."""
    cfg = bootstrap.settings()
    svc, sender = bootstrap.services(cfg), bootstrap.email_sender(cfg)
    report = send_outbox(svc, sender, cfg.console_url, limit)
    _say(
        f"Outbox: {report.sent} sent, {report.retried} to retry ({report.ambiguous} ambiguous: "
        f"timed out after SendGrid may have accepted them), {report.dead} dead-lettered "
        f"(of {report.claimed} claimed)"
    )
    if report.lost:
        _say(f"{report.lost} left to another dispatcher: this run's lease on them ran out")
    for line in report.errors:
        typer.echo(f"  {line}", err=True)


@app.command()
def worker() -> None:
    """Serve the Prefect deployments deadline-sweep, outbox-dispatch and nightly.

    nightly purges personal data past its retention period and takes the compliance snapshot.

    Needs a Prefect server (PREFECT_API_URL); `ruta serve` starts one with the worker.
    """
    from ruta.flows import run_worker  # Prefect takes ~1.5 s to import: only when needed

    run_worker()


@app.command("serve")
def serve_all(
    port: Annotated[int, typer.Option(min=1, max=65_535, help="Console port")] = 8501,
) -> None:
    """Start a Prefect server (SQLite under RUTA_HOME), the worker and the console on loopback.

    With PREFECT_API_URL set, that server is used instead. Ctrl-C stops everything.
    """
    from ruta.serve import serve

    raise typer.Exit(serve(bootstrap.settings(), _say, console_port=port))


@compliance_app.command("rebuild")
def compliance_rebuild(
    check: Annotated[
        bool, typer.Option("--check", help="Only say whether it is in step; change nothing")
    ] = False,
) -> None:
    """Recompute the read model the compliance figures come from, from the tasks, tracks and
    events (kept up as cases move; rebuild after restoring a backup or editing tasks by hand).
    With --check, exit 1 if it is not in step."""
    with bootstrap.engine().connect() as conn:
        rebuilt = facts.rebuild(conn)
        if check:
            conn.rollback()
        else:
            conn.commit()
    counts = f"{rebuilt.completions} completed task(s), {rebuilt.states} care state(s) reached"
    drift = f"{rebuilt.missing} row(s) missing, {rebuilt.extra} row(s) that should not be there"
    if rebuilt.in_step:
        _say(f"Compliance read model in step: {counts}.")
    elif check:
        raise _fail(
            f"Compliance read model NOT in step: {drift}. Run `ruta compliance rebuild`.", code=1
        )
    else:
        _say(f"Compliance read model rebuilt: {counts} ({drift} before).")


def main() -> None:
    datadir.private_umask()  # what any library writes for us under RUTA_HOME stays private
    logs.install()
    app()
