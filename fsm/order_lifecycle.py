"""An order's life after the customer confirmed it, declared once as data.

``CONFIRMED → PREPARING → READY`` (pickup) or ``OUT_FOR_DELIVERY``
(delivery) ``→ COMPLETED``; ``CANCELLED``, with a reason, from any status
before ``COMPLETED``. :data:`ORDER_LIFECYCLE` is a :class:`~fsm.machine.MachineSpec`
like the conversation's: the same ``transitions`` machine runs it, the same
validation checks it and ``bot.py diagram --machine order`` draws it. Staff
name the status they want; :meth:`OrderLifecycle.move` finds the transition
that leads there, or says which statuses are allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Final

from fsm.errors import FsmError
from fsm.machine import ConversationMachine, Guard, MachineSpec, State, Transition


class OrderStatus:
    """The statuses an order moves through, as stored (upper case, stable API)."""

    CONFIRMED: Final = "CONFIRMED"
    PREPARING: Final = "PREPARING"
    READY: Final = "READY"
    OUT_FOR_DELIVERY: Final = "OUT_FOR_DELIVERY"
    COMPLETED: Final = "COMPLETED"
    CANCELLED: Final = "CANCELLED"

    ALL: ClassVar[tuple[str, ...]] = (
        CONFIRMED, PREPARING, READY, OUT_FOR_DELIVERY, COMPLETED, CANCELLED)
    OPEN: ClassVar[tuple[str, ...]] = (CONFIRMED, PREPARING, READY, OUT_FOR_DELIVERY)


IS_DELIVERY: Final = Guard("is_delivery", "delivery")
IS_PICKUP: Final = Guard("is_pickup", "pickup")

ORDER_LIFECYCLE: Final = MachineSpec(
    name="order",
    initial=OrderStatus.CONFIRMED,
    states=(
        State(OrderStatus.CONFIRMED, "placed by the customer"),
        State(OrderStatus.PREPARING, "in the kitchen"),
        State(OrderStatus.READY, "waiting at the branch"),
        State(OrderStatus.OUT_FOR_DELIVERY, "with the driver"),
        State(OrderStatus.COMPLETED, "collected or delivered"),
        State(OrderStatus.CANCELLED, "cancelled, with a reason"),
    ),
    transitions=(
        Transition("prepare", (OrderStatus.CONFIRMED,), OrderStatus.PREPARING),
        Transition("ready", (OrderStatus.PREPARING,), OrderStatus.READY, (IS_PICKUP,)),
        Transition("dispatch", (OrderStatus.PREPARING,), OrderStatus.OUT_FOR_DELIVERY,
                   (IS_DELIVERY,)),
        Transition("complete", (OrderStatus.READY, OrderStatus.OUT_FOR_DELIVERY),
                   OrderStatus.COMPLETED),
        Transition("cancel", OrderStatus.OPEN, OrderStatus.CANCELLED),
    ),
    final=(OrderStatus.COMPLETED, OrderStatus.CANCELLED),
)


class IllegalMove(FsmError):
    """No transition leads from the order's status to the one asked for.

    ``allowed`` lists the statuses it may move to now (empty once final).
    """

    def __init__(self, current: str, wanted: str, allowed: tuple[str, ...]) -> None:
        self.current = current
        self.wanted = wanted
        self.allowed = allowed
        can = ", ".join(allowed) if allowed else "nothing: it is final"
        super().__init__(f"an order that is {current} cannot become {wanted}; it can become {can}")


@dataclass(slots=True)
class _Order:
    """What the guards read: the status (as ``state``) and the order type."""

    state: str
    order_type: str

    @property
    def is_delivery(self) -> bool:
        return self.order_type == "delivery"

    @property
    def is_pickup(self) -> bool:
        return self.order_type == "pickup"


class OrderLifecycle:
    """The runtime order machine, one for every order (nothing is attached to it)."""

    def __init__(self, spec: MachineSpec = ORDER_LIFECYCLE) -> None:
        self.spec = spec
        self._machine = ConversationMachine(spec)

    async def allowed(self, status: str, order_type: str) -> tuple[str, ...]:
        """The statuses an order of ``order_type`` in ``status`` may move to, in spec order."""
        found: list[str] = []
        for transition in self.spec.transitions:
            if status in self.spec.sources_of(transition) and transition.dest not in found:
                order = _Order(status, order_type)
                if await self._machine.fire(order, transition.trigger) and order.state != status:
                    found.append(order.state)
        return tuple(name for name in self.spec.state_names if name in found)

    async def move(self, status: str, order_type: str, wanted: str) -> str:
        """The trigger that moves the order to ``wanted``; :class:`IllegalMove` if none does."""
        for transition in self.spec.transitions:
            if transition.dest != wanted or status not in self.spec.sources_of(transition):
                continue
            order = _Order(status, order_type)
            if await self._machine.fire(order, transition.trigger) and order.state == wanted:
                return transition.trigger
        raise IllegalMove(status, wanted, await self.allowed(status, order_type))
