"""How a failed send is classified decides what happens to the candidate's message."""

from __future__ import annotations


class SendError(Exception):
    """Base class; `reason` is written for the person who has to act on it."""

    def __init__(self, reason: str, *, status: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status


class TransientSendError(SendError):
    """Try again later (5xx, 429, connection refused). `retry_after` in seconds, if known."""

    def __init__(self, reason: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(reason, status=status)
        self.retry_after = retry_after


class AmbiguousSendError(TransientSendError):
    """The request may have reached the provider (timeout after sending); retrying may
    produce a duplicate, which we count."""


class PermanentSendError(SendError):
    """This message can never be sent as it is (invalid address, too large)."""


class ConfigurationError(SendError):
    """Our own setup is wrong (401/403): pause sending, alert, keep everything owed."""
