"""`{% desk_cards column by_room show_site %}`: a calendar column's appointment cards (`grid.cards_html`);
`{% desk_cancelled appointments show_site %}`: the rows of the cancelled list under the grid
(`grid.cancelled_html`)."""

from django import template

from bookings.frontdesk import grid

register = template.Library()


@register.simple_tag
def desk_cards(column, by_room=False, show_site=False):
    return grid.cards_html(column, by_room=by_room, show_site=show_site)


@register.simple_tag
def desk_cancelled(appointments, show_site=False):
    return grid.cancelled_html(appointments, show_site=show_site)
