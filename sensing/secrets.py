"""Keep credentials out of logs: a filter that masks their values in every record of chatty loggers."""

from __future__ import annotations

import logging
import os

__all__ = ["redact_secrets_in_logs"]

LEAKY_LOGGERS = ("requests_oauthlib", "oauthlib", "sentinelhub", "urllib3", "requests")
"""requests_oauthlib logs token requests, client secret included, at DEBUG level."""


class _Redactor(logging.Filter):
    def __init__(self, variables: tuple[str, ...]) -> None:
        super().__init__()
        self.variables = variables

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = [v for v in (os.environ.get(name) for name in self.variables) if v]
        if not secrets:
            return True
        message = record.getMessage()
        if any(s in message for s in secrets):
            for secret in secrets:
                message = message.replace(secret, "***")
            record.msg, record.args = message, ()
        return True


def redact_secrets_in_logs(*variables: str) -> None:
    """Mask the values of the environment ``variables`` in records of the known leaky loggers and their
    children (a logger's filters do not see its children's records). Idempotent."""
    names = [n for n in logging.root.manager.loggerDict if n.split(".")[0] in LEAKY_LOGGERS]
    for name in {*LEAKY_LOGGERS, *names}:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _Redactor) and f.variables == variables for f in logger.filters):
            logger.addFilter(_Redactor(variables))
