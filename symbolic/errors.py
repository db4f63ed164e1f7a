"""Errors a user can cause: each carries one line that names the field, token or value at fault.

The command line prints ``symbolic: error: <message>`` and exits with status 2 for any of them;
anything else escaping is a bug in symbolic.
"""


class SymbolicError(ValueError):
    """Bad input: a malformed config, an unknown model, an impossible workload."""

    def __init__(self, message: str):
        super().__init__(" ".join(message.split()))


class ConfigError(SymbolicError):
    """A config.json that symbolic cannot turn into an architecture."""


class UnknownModelError(SymbolicError):
    """A model name that is neither a preset nor a readable file."""


class WorkloadError(SymbolicError):
    """A batch, prompt or context that no model could run."""
