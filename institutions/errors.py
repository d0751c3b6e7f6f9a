"""Errors of the directory. Messages name institutions and roles, never people.

DirectoryError
 ├── UnknownInstitution   (also LookupError) no institution with that id
 ├── NoCoordinator        the country has no active institution for the coordinator role
 └── InvalidRecord        (also ValueError) an institution or user record is malformed
"""

from __future__ import annotations


class DirectoryError(Exception):
    """Base of the directory's errors."""


class UnknownInstitution(DirectoryError, LookupError):
    @classmethod
    def of_user(cls, institution_id: str) -> UnknownInstitution:
        return cls(
            f"No institution {institution_id!r}; users belong to an institution of the "
            "directory (`ruta institutions list`)."
        )


class NoCoordinator(DirectoryError):
    def __init__(self, country: str, role: str) -> None:
        super().__init__(
            f"No active institution in {country} fills the coordinator role {role!r}, so a "
            "task nobody else fills has nowhere to go. Add one to the directory "
            "(institutions/seeds/ or `ruta institutions import-hsds`)."
        )


class InvalidRecord(DirectoryError, ValueError):
    pass
