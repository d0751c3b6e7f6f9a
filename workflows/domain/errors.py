"""Errors of the case engine. Messages name the case by reference, never by person.

ReferralEngineError
 ├── TransitionNotAllowed   the trigger does not leave the track's current state
 ├── GuardFailed            the trigger is allowed but its conditions are not met
 ├── ConcurrentChange       someone changed the case since it was loaded: reload
 ├── CaseClosed             the case is closed
 ├── UnknownCase            (also LookupError) no case with that reference
 ├── UnknownTrack           (also LookupError) the track is not open on the case
 ├── UnknownTask            (also LookupError) no such task on the case
 ├── TaskNotOpen            the task is already completed, cancelled or rejected
 ├── ExtensionRefused       no extension rule, the wrong approver or none left
 ├── NotAuthorised          the actor's role may not do this
 └── InvalidInput           (also ValueError) a value the protocol does not allow

SealedDataUnavailable: personal data cannot be sealed or opened (the key is missing or
wrong); deliberately no ReferralEngineError, so no catch of engine errors hides it.
NotInTransaction (RuntimeError): a unit of work used outside its `with` block (a bug).
UnclaimedChange (RuntimeError): a changed case saved without its compare-and-set (a bug).
"""

from __future__ import annotations


class ReferralEngineError(Exception):
    """Base of the case engine's errors."""


class TransitionNotAllowed(ReferralEngineError):
    def __init__(
        self, case_ref: str, track: str, state: str, trigger: str, allowed: list[str]
    ) -> None:
        self.allowed = allowed
        way_out = ", ".join(allowed) if allowed else "none (the state is final)"
        super().__init__(
            f"Case {case_ref}: track '{track}' is in '{state}' and '{trigger}' is not allowed "
            f"there; allowed: {way_out}."
        )


class GuardFailed(ReferralEngineError):
    def __init__(
        self, case_ref: str, track: str, state: str, trigger: str, unmet: list[str]
    ) -> None:
        self.unmet = unmet
        super().__init__(
            f"Case {case_ref}: '{trigger}' from '{state}' on track '{track}' is blocked: "
            f"{'; '.join(unmet)}."
        )


class ConcurrentChange(ReferralEngineError):
    def __init__(self, case_ref: str, loaded: int, current: int | None = None) -> None:
        now = f" (now version {current})" if current is not None else ""
        super().__init__(
            f"Case {case_ref} changed since you loaded it (version {loaded}){now}; "
            "nothing was saved. Reload the case and try again."
        )


class CaseClosed(ReferralEngineError):
    def __init__(self, case_ref: str) -> None:
        super().__init__(f"Case {case_ref} is closed; nothing more can happen on it.")


class UnknownCase(ReferralEngineError, LookupError):
    pass


class UnknownTrack(ReferralEngineError, LookupError):
    pass


class UnknownTask(ReferralEngineError, LookupError):
    pass


class TaskNotOpen(ReferralEngineError):
    pass


class ExtensionRefused(ReferralEngineError):
    pass


class NotAuthorised(ReferralEngineError, PermissionError):
    pass


class InvalidInput(ReferralEngineError, ValueError):
    """A value the protocol does not allow (an outcome, an attribute, a purpose)."""


class SealedDataUnavailable(Exception):
    """The encryption key that sealed personal data is missing or wrong (the store's
    VaultError is one). Nothing about the case is wrong, so it is not a ReferralEngineError:
    the engine's catch of refused follow-ups and the console's catch of refused steps must
    not take it for one."""


class NotInTransaction(RuntimeError):
    """A unit of work was used outside its `with` block."""

    def __init__(self) -> None:
        super().__init__(
            "Use the unit of work inside `with svc.uow() as uow:`; outside it there is no "
            "transaction to read or write in."
        )


class UnclaimedChange(RuntimeError):
    """A case whose state changed was saved without being claimed (compare-and-set) first."""

    def __init__(self, case_ref: str) -> None:
        super().__init__(
            f"Case {case_ref} was changed but not claimed in this transaction; claim it "
            "(CaseRepository.claim) before saving, or a concurrent change could be lost. "
            "Only events may be saved without a claim."
        )
