"""Role -> institution routing. Until the directory lands, one seed inbox per country and role."""

from __future__ import annotations


class SeedDirectory:
    """Resolves a role to the country's seed institution for that role (`CO.coat`)."""

    def resolve(self, country: str, role: str, jurisdiction: str) -> str:
        del jurisdiction  # the directory issue routes by jurisdiction
        return f"{country}.{role}"
