"""Logging that keeps personal data out: every record is redacted as it is made.

The vault tells the redactor (workflows/store/redactor.py `REDACTOR`) every personal value this
process seals or opens; the record factory installed here strikes those values from the
message and from the rendered traceback of every log record, whichever library logs it
(Ruta, SQLAlchemy, Prefect, Streamlit) and whichever handler writes it.
"""

from __future__ import annotations

import logging
from typing import Any

from workflows.store.redactor import REDACTOR, Redactor

_FORMATTER = logging.Formatter()


def redacting_factory(
    make: Any = None, redactor: Redactor = REDACTOR
) -> Any:  # the factory signature logging expects: (*args, **kwargs) -> LogRecord
    make = make or logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = make(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: let logging report it as usual
            return record
        clean = redactor.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redactor.redact(_FORMATTER.formatException(record.exc_info))
        return record

    factory.ruta_redacting = True  # type: ignore[attr-defined]
    return factory


def install(level: int = logging.WARNING) -> None:
    """Redact every log record from now on (idempotent) and set up plain stderr logging."""
    if not getattr(logging.getLogRecordFactory(), "ruta_redacting", False):
        logging.setLogRecordFactory(redacting_factory())
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
