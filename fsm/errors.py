"""Errors raised by the conversation core.

Hierarchy::

    FsmError
    ├── ConfigError             config.yaml is not what the bot can run on
    ├── MachineDefinitionError  the declared state table is inconsistent
    ├── SnapshotError           a stored conversation cannot be restored
    └── CartFull                no room for another cart line
"""


class FsmError(Exception):
    """Root of every error raised by :mod:`fsm`."""


class ConfigError(FsmError):
    """One or more problems in the configuration, each naming its key path."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = [f"{source}: {path}: {message}" if path else f"{source}: {message}"
                 for path, message in problems]
        super().__init__("\n".join(lines))


class MachineDefinitionError(FsmError):
    """The declared states and transitions do not form a usable machine."""


class SnapshotError(FsmError):
    """A snapshot names an unknown state or holds data of the wrong shape."""


class CartFull(FsmError):
    """The cart already has the maximum number of distinct lines."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"a cart holds at most {limit} different lines")
