"""One small hierarchy of errors; the CLI turns any AccelsimError into a one-line message."""


class AccelsimError(Exception):
    """Base of every error accelsim raises on purpose (bad input, bad files)."""


class ConfigError(AccelsimError):
    """A configuration file or value is invalid (names the file, field and value)."""


class TraceError(AccelsimError):
    """A trace folder is missing, corrupt, of an unknown version, or fails a check."""


class CheckpointError(AccelsimError):
    """A sparse checkpoint is truncated, corrupt, or does not match the model."""


class DataError(AccelsimError):
    """A dataset folder or file is missing or malformed."""
