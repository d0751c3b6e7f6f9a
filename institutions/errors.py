"""Errors of the directory. Messages name institutions and roles, never people.

DirectoryError
 ├── UnknownInstitution   (also LookupError) no institution with that id
 ├── UnknownUser          (also LookupError) no user with that name
 ├── UserExists           a user with that name is already there (adding is not changing)
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


class UnknownUser(DirectoryError, LookupError):
    def __init__(self, username: str) -> None:
        super().__init__(f"No user {username!r}; the users are listed by `ruta users list`.")


class UserExists(DirectoryError):
    def __init__(self, username: str, active: bool) -> None:
        state = "" if active else " (deactivated)"
        super().__init__(
            f"User {username!r} already exists{state}; adding does not change a user: "
            "reactivate it, change its role or reset its password instead."
        )
        self.username = username
        self.active = active


class NoCoordinator(DirectoryError):
    def __init__(self, country: str, role: str) -> None:
        super().__init__(
            f"No active institution in {country} fills the coordinator role {role!r}, so a "
            "task nobody else fills has nowhere to go. Add one to the directory "
            "(institutions/seeds/ or `ruta institutions import-hsds`)."
        )


class InvalidRecord(DirectoryError, ValueError):
    pass
