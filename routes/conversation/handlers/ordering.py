"""Choosing how to order, browsing the menu, and filling the cart."""

from __future__ import annotations

from fsm.config import Item
from fsm.errors import CartFull
from fsm.session import DELIVERY, PICKUP, PendingItem
from fsm.states import States
from routes.conversation.context import Context
from routes.conversation.filters import ChoiceId
from routes.conversation.gate import branch_closed
from routes.conversation.i18n import N_, _, _n
from routes.conversation.matching import read_number
from routes.conversation.router import Router
from routes.conversation.side_questions import SWITCH, order_type_name
from routes.conversation.summary import line_title, money

router = Router("ordering")

BROWSING = States.ORDERING + States.CHECKOUT
NOT_ON_MENU = N_("Sorry, that's no longer on the menu.")


@router.message(ChoiceId("order_type:"))
async def choose_order_type(ctx: Context) -> None:
    kind = ctx.arg("order_type:")
    session, restaurant = ctx.session, ctx.restaurant
    if kind not in restaurant.order_types:
        ctx.say(_("Sorry, {restaurant} doesn't offer {order_type}.",
                  restaurant=ctx.local.name, order_type=order_type_name(kind)))
        ctx.ask()
        return
    if session.order_type is not None and session.order_type != kind:
        # An old Delivery/Pickup button: ask before switching (and adding a fee).
        session.asking = f"{SWITCH}{kind}"
        ctx.ask()
        return
    if session.order_type == kind and session.state != States.CHOOSING_ORDER_TYPE:
        ctx.say(_("You're already ordering for {order_type}.",
                  order_type=order_type_name(kind)))
        ctx.ask()
        return
    await apply_order_type(ctx, kind)


async def apply_order_type(ctx: Context, kind: str) -> None:
    """Make ``kind`` the order type and go on to its next step."""
    session, restaurant = ctx.session, ctx.restaurant
    session.order_type = kind
    if kind == DELIVERY:
        session.branch_id = None
        await ctx.fire("choose_delivery")
    elif kind == PICKUP:
        session.address = None
        await ctx.fire("choose_pickup")
        if len(restaurant.branches) == 1:
            await _pick_branch(ctx, restaurant.branches[0].id)
            return
    ctx.ask()


@router.message(ChoiceId("branch:"))
async def choose_branch(ctx: Context) -> None:
    if not ctx.session.is_pickup:
        ctx.say(_("That button is from an earlier step."))
        ctx.ask()
        return
    await _pick_branch(ctx, ctx.arg("branch:"))


async def _pick_branch(ctx: Context, branch_id: str) -> None:
    branch = ctx.local.branch(branch_id)
    if branch is None:
        ctx.say(_("Sorry, we don't have that branch."))
    elif not ctx.restaurant.branch_open(branch.id, ctx.now):
        ctx.say(branch_closed(ctx, branch.id))  # another branch may be open: asked again
    else:
        ctx.session.branch_id = branch.id
        ctx.say(_("Pickup from {branch}.", branch=branch.name))
        if ctx.session.state == States.CHOOSING_BRANCH:
            await ctx.fire("choose_branch")
    ctx.ask()


@router.message(ChoiceId("category:"), state=BROWSING)
async def open_category(ctx: Context) -> None:
    category_id, _colon, page = ctx.arg("category:").partition(":")
    category = ctx.restaurant.category(category_id)
    if category is None:
        ctx.say(_(NOT_ON_MENU))
    else:
        ctx.session.category_id = category.id
        number = read_number(page).value if page else None
        ctx.session.page = number - 1 if number is not None and number > 0 else 0
        await ctx.fire("open_category")
    ctx.ask()


@router.message(ChoiceId("item:"), state=BROWSING)
async def pick_item(ctx: Context) -> None:
    item = ctx.restaurant.item(ctx.arg("item:"))
    if item is None:
        ctx.say(_(NOT_ON_MENU))
        ctx.ask()
        return
    if item.id in ctx.sold_out:
        shown = ctx.local.item(item.id) or item
        ctx.say(_("Sorry, {item} is sold out right now.", item=shown.name))
        ctx.ask()
        return
    if item.addons:
        ctx.session.pending = PendingItem(item.id, quantity=ctx.quantity)
        await ctx.fire("pick_item")
        ctx.ask()
        return
    await _add_to_cart(ctx, item, [], ctx.quantity)


@router.message(ChoiceId("addon:"), state=States.CHOOSING_ADDONS)
async def pick_addon(ctx: Context) -> None:
    pending = ctx.session.pending
    item = ctx.restaurant.item(pending.item_id) if pending else None
    addon = item.addon(ctx.arg("addon:")) if item else None
    if pending is None or item is None or addon is None or item.id in ctx.sold_out:
        ctx.say(_(NOT_ON_MENU))
        ctx.ask()
        return
    if addon.id not in pending.addon_ids:
        pending.addon_ids.append(addon.id)
    if len(pending.addon_ids) < len(item.addons):
        ctx.ask()
        return
    await _add_to_cart(ctx, item, pending.addon_ids, pending.quantity)


@router.message(ChoiceId("action:no_addons"), state=States.CHOOSING_ADDONS)
async def finish_addons(ctx: Context) -> None:
    await add_pending_to_cart(ctx)


async def add_pending_to_cart(ctx: Context, *, ask: bool = True) -> None:
    """Put the item waiting for its add-ons in the cart with those chosen so far."""
    pending = ctx.session.pending
    item = ctx.restaurant.item(pending.item_id) if pending else None
    if pending is None or item is None or item.id in ctx.sold_out:
        ctx.session.pending = None
        ctx.say(_(NOT_ON_MENU))
        await ctx.fire("show_menu")
        if ask:
            ctx.ask()
        return
    await _add_to_cart(ctx, item, pending.addon_ids, pending.quantity, ask=ask)


async def _add_to_cart(ctx: Context, item: Item, addon_ids: list[str],
                       quantity: int = 1, *, ask: bool = True) -> None:
    session = ctx.session
    addons = [addon for addon in item.addons if addon.id in addon_ids]
    try:
        line = session.cart.add(item, addons, quantity)
    except CartFull as exc:
        ctx.say(_("Your cart is full ({count} different items). Check out or remove "
                  "something first.", count=exc.limit))
    else:
        local = ctx.local.item(item.id) or item
        what = local.name
        if addons:
            what = _("{item} with {extras}", item=what, extras=", ".join(
                (local.addon(a.id) or a).name for a in addons))
        price = money(ctx.local, line.unit_price)
        if quantity == 1:
            ctx.say(_("Added {item} ({price}).", item=what, price=price))
        else:
            ctx.say(_n("Added {count} × {item} ({price} each).",
                       "Added {count} × {item} ({price} each).", quantity,
                       item=what, price=price))
    session.pending = None
    await ctx.fire("add_item")
    if ask:
        ctx.ask()


@router.message(ChoiceId("remove:"), state=BROWSING)
async def remove_one(ctx: Context) -> None:
    session = ctx.session
    line = session.cart.line(ctx.arg("remove:"))
    if line is None:
        ctx.say(_("That's no longer in your cart."))
    else:
        session.cart.set_quantity(line.key, line.quantity - 1)
        ctx.say(_("Removed one {item}.", item=line_title(line, ctx.local)))
    if session.cart.is_empty:
        ctx.say(_("Your cart is now empty."))
        await ctx.fire("show_menu")
    else:
        await ctx.fire("view_cart")
    ctx.ask()
