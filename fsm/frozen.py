"""The base of every config model: immutable, and an unknown key is an error."""

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    """A pydantic model that rejects unknown keys and cannot be changed once built.

    Validation failures raise :class:`pydantic.ValidationError`;
    :func:`fsm.config.parse_config` turns them into a
    :class:`~fsm.errors.ConfigError`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
