"""Routers: handlers registered by conversation state and filters.

Modelled on aiogram's ``Router``: a handler is registered with the states it
serves and the filters that must all pass; routers nest with
:meth:`Router.include_router` and are searched depth-first in include order,
a router's own handlers before its children's.

That order is worked out once: the first :meth:`Router.resolve` flattens the
tree into one list per conversation state (the handlers that serve it, in
include order), and registering a handler or including a router anywhere
below drops those lists.  A message then tries only its state's handlers,
each filter called directly, and a handler whose first filter is a
:class:`~routes.conversation.filters.ChoiceId` is passed over by comparing
its prefix with the message's choice, read once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from routes.conversation.filters import ChoiceId

if TYPE_CHECKING:
    from routes.conversation.context import Context

_UNRESOLVED: Final = object()

Handler = Callable[["Context"], Awaitable[None]]
Filter = Callable[["Context"], bool]


@dataclass(frozen=True, slots=True)
class HandlerObject:
    callback: Handler
    states: frozenset[str] | None
    filters: tuple[Filter, ...]
    # A first filter ChoiceId(prefix) as its prefix (most handlers have one), which
    # Router.resolve compares with the message's choice itself; the other filters.
    choice_prefix: str | None = field(init=False)
    rest: tuple[Filter, ...] = field(init=False)

    def __post_init__(self) -> None:
        first = self.filters[0] if self.filters else None
        prefix = first.prefix if isinstance(first, ChoiceId) else None
        object.__setattr__(self, "choice_prefix", prefix)
        object.__setattr__(self, "rest", self.filters[1:] if prefix is not None
                           else self.filters)


class Router:
    def __init__(self, name: str) -> None:
        self.name = name
        self.handlers: list[HandlerObject] = []
        self.sub_routers: list[Router] = []
        self.parent: Router | None = None
        self._by_state: dict[str, tuple[HandlerObject, ...]] = {}

    def __repr__(self) -> str:
        return f"Router({self.name!r})"

    def message(self, *filters: Filter,
                state: str | Iterable[str] | None = None) -> Callable[[Handler], Handler]:
        """Register the decorated handler for ``state`` (any state if ``None``)."""
        states = None if state is None else frozenset([state] if isinstance(state, str) else state)

        def register(callback: Handler) -> Handler:
            self.handlers.append(HandlerObject(callback, states, filters))
            self._changed()
            return callback

        return register

    def include_router(self, router: Router) -> Router:
        if router.parent is not None:
            raise ValueError(f"{router!r} is already included in {router.parent!r}")
        ancestor: Router | None = self
        while ancestor is not None:
            if ancestor is router:
                raise ValueError(f"including {router!r} in {self!r} would make a cycle")
            ancestor = ancestor.parent
        router.parent = self
        self.sub_routers.append(router)
        self._changed()
        return router

    def resolve(self, ctx: Context) -> HandlerObject | None:
        """The first handler, in include order, whose state and filters match."""
        state = ctx.session.state
        candidates = self._by_state.get(state)
        if candidates is None:
            candidates = self._by_state[state] = tuple(
                handler for handler in self.walk()
                if handler.states is None or state in handler.states)
        choice: object = _UNRESOLVED  # read once, by the first ChoiceId
        for handler in candidates:
            prefix = handler.choice_prefix
            if prefix is not None:
                if choice is _UNRESOLVED:
                    choice = ctx.choice
                if not isinstance(choice, str) or not choice.startswith(prefix):
                    continue
            for check in handler.rest:
                if not check(ctx):
                    break
            else:
                return handler
        return None

    def walk(self) -> Iterator[HandlerObject]:
        """Every handler of this router and those included in it, in include order."""
        yield from self.handlers
        for router in self.sub_routers:
            yield from router.walk()

    def _changed(self) -> None:
        """Drop the per-state lists of this router and every router that includes it."""
        router: Router | None = self
        while router is not None:
            router._by_state.clear()
            router = router.parent
