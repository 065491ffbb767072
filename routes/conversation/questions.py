"""The question each conversation state asks, built from the session.

One function per state, gathered in :data:`QUESTIONS`.  The same question
is what a customer sees after a transition, what unknown input is answered
with, and what typed numbers and titles are matched against — so "2" always
means the second option the customer was shown.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from fsm.config import Restaurant
from fsm.session import Session
from fsm.states import States
from routes.conversation import i18n
from routes.conversation.i18n import N_, _, _k, _n
from routes.conversation.messages import (
    LIST_ROWS_MAX,
    Option,
    Outgoing,
    Section,
    buttons,
    choice,
    list_message,
    location_request,
    split_body,
)
from routes.conversation.side_questions import side_question
from routes.conversation.summary import (
    line_name,
    line_title,
    money,
    order_total,
    payment_title,
    render_cart,
    render_order_summary,
)

__all__ = ["QUESTIONS", "money", "order_total", "question_for", "question_messages",
           "render_cart", "render_order_summary"]

ORDER_TYPE_TITLES: Final = {"delivery": N_("Delivery"), "pickup": N_("Pickup")}
ITEMS_PER_PAGE: Final = LIST_ROWS_MAX - 1  # one row is kept for "More…" or "Back"


def ask_order_type(session: Session, restaurant: Restaurant) -> Outgoing:
    options = [Option(f"order_type:{kind}", _(ORDER_TYPE_TITLES[kind]),
                      keywords=(ORDER_TYPE_TITLES[kind],))
               for kind in restaurant.order_types]
    return buttons(_("How would you like to get your order?"), options)


def ask_branch(session: Session, restaurant: Restaurant) -> Outgoing:
    options = [Option(f"branch:{branch.id}", branch.name, branch.address)
               for branch in restaurant.branches[:LIST_ROWS_MAX]]
    return choice(_("Which branch will you pick up from?"), options, button=_("Branches"))


def ask_category(session: Session, restaurant: Restaurant) -> Outgoing:
    rows = [Option(f"category:{category.id}", category.title,
                   category.description
                   or _n("{count} item", "{count} items", len(category.items)))
            for category in restaurant.menu]
    cart_rows: tuple[Option, ...] = ()
    if not session.cart.is_empty:
        cart_rows = (Option("action:view_cart", _("View cart"),
                            _n("{count} item, {amount}", "{count} items, {amount}",
                               session.cart.item_count,
                               amount=money(restaurant, session.cart.subtotal))),
                     Option("action:checkout", _("Checkout")))
    room = LIST_ROWS_MAX - len(cart_rows)
    # More categories than fit is a config a restaurant should not ship; the
    # rest stay reachable by typing their name.
    return list_message(_("What would you like? Pick a category."), _("Menu"),
                        [Section(_("Menu"), tuple(rows[:room])),
                         Section(_("Your order"), cart_rows)])


def ask_item(session: Session, restaurant: Restaurant) -> Outgoing:
    category = restaurant.category(session.category_id or "") or restaurant.menu[0]
    items = category.items
    pages = max(1, -(-len(items) // ITEMS_PER_PAGE))
    page = min(max(session.page, 0), pages - 1)
    shown = items[page * ITEMS_PER_PAGE:(page + 1) * ITEMS_PER_PAGE]
    rows = [Option(f"item:{item.id}", item.name, _item_description(restaurant, item.price,
                                                                   item.description))
            for item in shown]
    if page + 1 < pages:
        rows.append(Option(f"category:{category.id}:{page + 2}", _("More…"),
                           _("Page {page} of {pages}", page=i18n.number(page + 2),
                             pages=i18n.number(pages)), keywords=_k("more|next")))
    else:
        rows.append(Option("action:add_more", _("Back to categories"), keywords=_k("back")))
    if pages > 1:
        body = _("{category} (page {page} of {pages}): pick an item to add it to your cart.",
                 category=category.title, page=i18n.number(page + 1),
                 pages=i18n.number(pages))
    else:
        body = _("{category}: pick an item to add it to your cart.", category=category.title)
    return list_message(body, _("Items"), [Section(category.title, tuple(rows))])


def ask_addons(session: Session, restaurant: Restaurant) -> Outgoing:
    pending = session.pending
    item = restaurant.item(pending.item_id) if pending else None
    if pending is None or item is None:
        return ask_category(session, restaurant)
    chosen = [addon.name for addon in item.addons if addon.id in pending.addon_ids]
    rows = [Option(f"addon:{addon.id}", addon.name, f"+{money(restaurant, addon.price)}")
            for addon in item.addons if addon.id not in pending.addon_ids]
    done_title = _("Add to cart") if chosen else _("No extras")
    rows = rows[:LIST_ROWS_MAX - 1]
    rows.append(Option("action:no_addons", done_title,
                       keywords=_k("no extras|add to cart|no|none|done")))
    asked = _("{item} ({price}). Any extras?", item=item.name,
              price=money(restaurant, item.price))
    if chosen:
        asked += " " + _("So far: {extras}.", extras=", ".join(chosen))
    return list_message(asked, _("Extras"), [Section(_("Extras"), tuple(rows))])


def ask_cart(session: Session, restaurant: Restaurant) -> Asked:
    if session.cart.is_empty:
        return ask_category(session, restaurant)
    fixed = (Option("action:checkout", _("Checkout")),
             Option("action:add_more", _("Add more items"), keywords=_k("add more|more")),
             Option("action:cancel", _("Cancel order")))
    editable = tuple(Option(f"line:{line.key}",
                            _("Change {item}", item=line_name(line, restaurant)),
                            _("{quantity} × {item}", quantity=i18n.number(line.quantity),
                              item=line_title(line, restaurant)))
                     for line in session.cart)[:LIST_ROWS_MAX - len(fixed)]
    sections = [Section(_("Next"), fixed), Section(_("Change or remove"), editable)]
    return split_body(_("Your cart:") + "\n" + render_cart(session, restaurant),
                      _("What would you like to do next?"),
                      lambda body: list_message(body, _("Options"), sections))


def ask_address(session: Session, restaurant: Restaurant) -> Outgoing:
    if not restaurant.typed_addresses:
        return location_request(_("Where should we deliver? Share your location pin."))
    return location_request(_("Where should we deliver? Share your location pin, "
                              "or type your address."))


def ask_payment(session: Session, restaurant: Restaurant) -> Outgoing:
    total, _fee = order_total(session, restaurant)
    options = [Option(f"payment:{method}", payment_title(restaurant, method))
               for method in restaurant.payment_methods]
    return choice(_("Your total is {amount}. How would you like to pay?",
                    amount=money(restaurant, total)),
                  options[:LIST_ROWS_MAX], button=_("Payment"))


def ask_confirmation(session: Session, restaurant: Restaurant) -> Asked:
    # The whole summary is seen before the confirm button: as text first when it is long.
    options = [Option("action:confirm", _("Confirm order"), keywords=_k("confirm|yes")),
               Option("action:add_more", _("Add more"), keywords=_k("more")),
               Option("action:cancel", _("Cancel order"), keywords=_k("no"))]
    tip = "" if session.order_note else "\n" + _("(Type \"note\" to add a note for the kitchen.)")
    return split_body(_("Please check your order:") + "\n"
                      + render_order_summary(session, restaurant) + tip,
                      _("Is your order above right?"), lambda body: buttons(body, options))


# A question is one message, or several when a long body goes first as text; the
# last message carries the options.
Asked = Outgoing | tuple[Outgoing, ...]
Question = Callable[[Session, Restaurant], Asked]

QUESTIONS: Final[Mapping[str, Question]] = {
    States.CHOOSING_ORDER_TYPE: ask_order_type,
    States.CHOOSING_BRANCH: ask_branch,
    States.CHOOSING_CATEGORY: ask_category,
    States.BROWSING_ITEMS: ask_item,
    States.CHOOSING_ADDONS: ask_addons,
    States.REVIEWING_CART: ask_cart,
    States.CHECKOUT_ADDRESS: ask_address,
    States.CHECKOUT_PAYMENT: ask_payment,
    States.CHECKOUT_CONFIRMATION: ask_confirmation,
}


def question_messages(session: Session, restaurant: Restaurant) -> tuple[Outgoing, ...]:
    """Every message of the session's current question, in the order they are sent.

    A side question (``session.asking``: carry on or start over, switch to
    delivery…) is asked instead of the step's own while it is open. Written in
    the session's language, with the restaurant's names in it.
    """
    language = i18n.language_of(session, restaurant)
    with i18n.speaking(language):
        local = restaurant.in_language(language)
        side = side_question(session, local)
        if side is not None:
            return (side,)
        asked = QUESTIONS[session.state](session, local)
        return asked if isinstance(asked, tuple) else (asked,)


def question_for(session: Session, restaurant: Restaurant) -> Outgoing:
    """The question of the session's current state: the message carrying its options."""
    return question_messages(session, restaurant)[-1]


def _item_description(restaurant: Restaurant, price: int, description: str | None) -> str:
    shown = money(restaurant, price)
    return f"{shown} · {description}" if description else shown
