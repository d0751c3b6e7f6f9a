"""The ports held in memory: a unit of work, cases, protocols, inbox, outbox and directory.

For the engine and use-case tests (milliseconds, no database) and anything else that wants
Ruta without SQL. `tests/contract/` runs one suite against these and the SQL adapters on
SQLite and PostgreSQL, so they behave alike where the ports say so:

- A unit of work reads its own writes and commits all or nothing: until `commit()` its
  changes live in the unit of work, and leaving the `with` block without committing drops
  them (ids already handed out stay used, as database sequences do).
- `claim` is a compare-and-set that also holds the case, like a row lock, until the unit
  of work commits or ends, and `take` skips a case held elsewhere (as SKIP LOCKED does on
  PostgreSQL). A claim of a case another open unit of work holds loses at once with
  ConcurrentChange, where PostgreSQL would wait for the other to finish: a test cannot wait
  on itself. On both, only events may be saved without a claim (reading personal data, the
  retention purge); a changed case saved unclaimed is refused (UnclaimedChange).
- Claiming outbox messages skips those another open unit of work holds (SKIP LOCKED).

Not kept here: the hash chain of the event log, the compliance read model and sealing
(person records are held as given): those are SQL's (workflows/store/audit.py, facts.py,
vault.py) and are tested on the databases.
"""

from workflows.store.memory.data import MemoryData
from workflows.store.memory.uow import InMemoryUnitOfWork

__all__ = ["InMemoryUnitOfWork", "MemoryData"]
