"""Translated labels for the coded reasons a task is rejected, put on hold, failed or cancelled."""

from __future__ import annotations

# code -> (es, pt, en). Labels read after "Motivo: " / "Reason: ".
_REASONS: dict[str, tuple[str, str, str]] = {
    # rejection
    "no_capacity": (
        "sin capacidad disponible",
        "sem capacidade disponível",
        "no capacity available",
    ),
    "out_of_jurisdiction": (
        "fuera de la jurisdicción de la institución",
        "fora da jurisdição da instituição",
        "outside the institution's jurisdiction",
    ),
    "not_competent": (
        "no es competencia de la institución",
        "não é competência da instituição",
        "not within the institution's mandate",
    ),
    "not_eligible": (
        "no cumple los criterios de elegibilidad del servicio",
        "não atende aos critérios de elegibilidade do serviço",
        "does not meet the service's eligibility criteria",
    ),
    "duplicate": ("solicitud duplicada", "solicitação duplicada", "duplicate request"),
    "other": ("otro motivo", "outro motivo", "other reason"),
    # hold
    "waiting_for_person": (
        "a la espera de la persona",
        "aguardando a pessoa",
        "waiting for the person",
    ),
    "waiting_for_documents": (
        "a la espera de documentos",
        "aguardando documentos",
        "waiting for documents",
    ),
    "waiting_for_other_institution": (
        "a la espera de otra institución",
        "aguardando outra instituição",
        "waiting for another institution",
    ),
    # failure
    "person_unreachable": (
        "no fue posible contactar a la persona",
        "não foi possível contatar a pessoa",
        "the person could not be reached",
    ),
    "security": ("razones de seguridad", "motivos de segurança", "security reasons"),
    "person_declined": (
        "la persona no aceptó el servicio",
        "a pessoa recusou o serviço",
        "the person declined the service",
    ),
    "service_unavailable": (
        "servicio no disponible",
        "serviço indisponível",
        "service unavailable",
    ),
    # cancellation
    "not_needed": ("ya no es necesaria", "não é mais necessária", "no longer needed"),
    "entered_in_error": (
        "registrada por error",
        "registrada por engano",
        "entered in error",
    ),
    "consent_withdrawn": (
        "retiro del consentimiento",
        "retirada do consentimento",
        "consent withdrawn",
    ),
    "state_left": (
        "el caso pasó a otra etapa",
        "o caso passou para outra etapa",
        "the case moved to another step",
    ),
    "case_closed": ("caso cerrado", "caso encerrado", "case closed"),
}

_INDEX = {"es": 0, "pt": 1, "en": 2}

REASON_CODES = tuple(_REASONS)


def reason_label(code: str, locale: str) -> str:
    """The label of ``code`` in ``locale``; an unknown code (or locale) falls back to the code."""
    labels = _REASONS.get(code)
    if labels is None or locale not in _INDEX:
        return code
    return labels[_INDEX[locale]]
