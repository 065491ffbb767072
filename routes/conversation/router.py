"""Routers: handlers registered by conversation state and filters.

Modelled on aiogram's ``Router``: a handler is registered with the states it
serves and the filters that must all pass; routers nest with
:meth:`Router.include_router` and are searched depth-first in include order,
a router's own handlers before its children's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from routes.conversation.context import Context

Handler = Callable[["Context"], Awaitable[None]]
Filter = Callable[["Context"], bool]


@dataclass(frozen=True, slots=True)
class HandlerObject:
    callback: Handler
    states: frozenset[str] | None
    filters: tuple[Filter, ...]

    def matches(self, ctx: Context) -> bool:
        if self.states is not None and ctx.session.state not in self.states:
            return False
        return all(check(ctx) for check in self.filters)


class Router:
    def __init__(self, name: str) -> None:
        self.name = name
        self.handlers: list[HandlerObject] = []
        self.sub_routers: list[Router] = []
        self.parent: Router | None = None

    def __repr__(self) -> str:
        return f"Router({self.name!r})"

    def message(self, *filters: Filter,
                state: str | Iterable[str] | None = None) -> Callable[[Handler], Handler]:
        """Register the decorated handler for ``state`` (any state if ``None``)."""
        states = None if state is None else frozenset([state] if isinstance(state, str) else state)

        def register(callback: Handler) -> Handler:
            self.handlers.append(HandlerObject(callback, states, filters))
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
        return router

    def resolve(self, ctx: Context) -> HandlerObject | None:
        """The first handler, in include order, whose state and filters match."""
        for handler in self.handlers:
            if handler.matches(ctx):
                return handler
        for router in self.sub_routers:
            found = router.resolve(ctx)
            if found is not None:
                return found
        return None
