"""`{% desk_cards column by_room show_site %}`: a calendar column's appointment cards (`grid.cards_html`)."""

from django import template

from bookings.frontdesk import grid

register = template.Library()


@register.simple_tag
def desk_cards(column, by_room=False, show_site=False):
    return grid.cards_html(column, by_room=by_room, show_site=show_site)
