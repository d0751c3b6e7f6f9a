"""Seed files: the public bodies of each country, one YAML file per country.

```yaml
country: CO
institutions:
  - id: co-icbf-narino
    name: "ICBF, Regional Narino"
    jurisdiction: CO-NAR
    roles: [icbf]
    emails: [icbf-narino@co.example.org]
    locale: es            # optional, default es
    active: true          # optional, default true
    description: "..."    # optional
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from institutions.domain import Institution
from protocols.errors import Problem, ProtocolFileError
from protocols.yamlfile import YamlDocument

SEEDS_DIR = Path(__file__).parent / "seeds"
FIELDS = ("id", "name", "jurisdiction", "roles", "emails", "locale", "active", "description")


def load_seed(path: Path) -> list[Institution]:
    """The institutions of one seed file; every problem is reported with its line."""
    doc = YamlDocument.read(path)
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("institutions"), list):
        raise ProtocolFileError(doc.name, [doc.problem((), "a seed file needs `institutions:`")])
    country = str(data.get("country", ""))
    problems: list[Problem] = []
    out: list[Institution] = []
    seen: set[str] = set()
    for n, item in enumerate(data["institutions"]):
        loc = ("institutions", n)
        if not isinstance(item, dict):
            problems.append(doc.problem(loc, "an institution is a mapping with id, name, ..."))
            continue
        unknown = sorted(set(item) - set(FIELDS))
        if unknown:
            problems.append(
                doc.problem(loc, f"unknown field(s) {', '.join(unknown)}; allowed: {FIELDS}")
            )
            continue
        inst = _institution(country, item)
        for message in inst.problems():
            problems.append(doc.problem(loc, message))
        if inst.id in seen:
            problems.append(doc.problem((*loc, "id"), f"duplicate institution id {inst.id!r}"))
        seen.add(inst.id)
        out.append(inst)
    if problems:
        raise ProtocolFileError(doc.name, problems)
    return out


def _institution(country: str, item: dict[str, Any]) -> Institution:
    return Institution(
        id=str(item.get("id", "")),
        country=country,
        jurisdiction=str(item.get("jurisdiction", "")),
        name=str(item.get("name", "")),
        roles=tuple(str(r) for r in item.get("roles") or ()),
        emails=tuple(str(e) for e in item.get("emails") or ()),
        locale=str(item.get("locale", "es")),
        active=bool(item.get("active", True)),
        description=str(item.get("description", "")),
    )


def load_seeds(directory: Path = SEEDS_DIR) -> list[Institution]:
    """Every institution of every seed file, in file order."""
    out: list[Institution] = []
    for path in sorted(directory.glob("*.yaml")):
        out.extend(load_seed(path))
    return out
