"""One exception root, split into what orchestration may retry and what it must not."""

__all__ = ["ConfigError", "FatalError", "RetryableError", "SceneError", "SensingError"]


class SensingError(Exception):
    """Root of every error raised on purpose by the library."""


class RetryableError(SensingError):
    """A transient failure (network, busy server): retrying later may succeed."""


class FatalError(SensingError):
    """A failure that retrying cannot fix (bad input, bad configuration)."""


class ConfigError(FatalError):
    """Invalid configuration or parameter; the message names the field."""


class SceneError(FatalError):
    """One scene cannot be processed (corrupt file, missing band); other scenes go on."""
