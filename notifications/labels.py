"""Translated labels for the coded reasons a task is rejected, put on hold, failed or cancelled.

The message id of a reason is its English label; the translations (es, pt, en) live in the
gettext catalogues `notifications/locales/<locale>/LC_MESSAGES/messages.po`. `make i18n`
extracts the ids marked with `N_` below into `notifications/locales/messages.pot` and
updates the catalogues.
"""

from __future__ import annotations

from pathlib import Path

from notifications.catalogues import translations

LOCALES = ("es", "pt", "en")
CATALOGUES = Path(__file__).parent / "locales"


def N_(message: str) -> str:
    """Mark ``message`` for extraction (`pybabel extract -k N_`); it is translated later."""
    return message


# code -> message id (the English label). Labels read after "Motivo: " / "Reason: ".
_REASONS: dict[str, str] = {
    # rejection
    "no_capacity": N_("no capacity available"),
    "out_of_jurisdiction": N_("outside the institution's jurisdiction"),
    "not_competent": N_("not within the institution's mandate"),
    "not_eligible": N_("does not meet the service's eligibility criteria"),
    "duplicate": N_("duplicate request"),
    "other": N_("other reason"),
    # hold
    "waiting_for_person": N_("waiting for the person"),
    "waiting_for_documents": N_("waiting for documents"),
    "waiting_for_other_institution": N_("waiting for another institution"),
    # failure
    "person_unreachable": N_("the person could not be reached"),
    "security": N_("security reasons"),
    "person_declined": N_("the person declined the service"),
    "service_unavailable": N_("service unavailable"),
    # cancellation
    "not_needed": N_("no longer needed"),
    "entered_in_error": N_("entered in error"),
    "consent_withdrawn": N_("consent withdrawn"),
    "state_left": N_("the case moved to another step"),
    "case_closed": N_("case closed"),
}

REASON_CODES = tuple(_REASONS)


def reason_message_id(code: str) -> str | None:
    """The English message id of ``code`` in the catalogues, or None for an unknown code."""
    return _REASONS.get(code)


def reason_label(code: str, locale: str) -> str:
    """The label of ``code`` in ``locale``; an unknown code (or locale) falls back to the code."""
    message = _REASONS.get(code)
    if message is None or locale not in LOCALES:
        return code
    return str(translations(CATALOGUES, locale).gettext(message))
