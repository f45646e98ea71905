"""The admin's list pages answer crafted addresses with a message, never a server error.

Django's admin checks filters on fields, but not a date part (`?created__year=-1` fails only
when the list renders), the ids of the rows a bulk action names, or a search's size (SQLite
refuses a LIKE pattern over 50,000 bytes and an expression of over 1000 terms). Every
ModelAdmin here, the user and group admins included, is a `GuardedAdmin`."""

import re

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.http import HttpResponseRedirect

from lablog.ids import parse_id

SEARCH_MAX_CHARS = 200
SEARCH_MAX_WORDS = 10
_DATE_PART = re.compile(r"__(?P<part>year|month|day)(?:__(?:exact|gte?|lte?))?$")
_DATE_PART_RANGES = {"year": range(1, 10_000), "month": range(1, 13), "day": range(1, 32)}


def _not_a_date_part(name: str, value: str) -> bool:
    match = _DATE_PART.search(name)
    if not match:
        return False
    number = parse_id(value)
    return number is None or number not in _DATE_PART_RANGES[match.group("part")]


class GuardedAdmin(admin.ModelAdmin):
    def changelist_view(self, request, extra_context=None):
        wrong = next((f"{name}={value}" for name, value in request.GET.items() if _not_a_date_part(name, value)), None)
        if wrong:
            self.message_user(request, f"Not a date, so the list is shown unfiltered: {wrong[:100]}", messages.WARNING)
            return HttpResponseRedirect(request.path)
        return super().changelist_view(request, extra_context)

    def get_search_results(self, request, queryset, search_term):
        words = search_term.split()
        if len(search_term) > SEARCH_MAX_CHARS or len(words) > SEARCH_MAX_WORDS:
            search_term = " ".join(words[:SEARCH_MAX_WORDS])[:SEARCH_MAX_CHARS]
            self.message_user(
                request, f"A search takes at most {SEARCH_MAX_WORDS} words and {SEARCH_MAX_CHARS} characters: "
                f"searched for “{search_term}”.", messages.WARNING,
            )
        return super().get_search_results(request, queryset, search_term)

    def response_action(self, request, queryset):
        if any(parse_id(value) is None for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)):
            self.message_user(request, "The selection names rows that cannot exist: nothing was done.", messages.WARNING)
            return HttpResponseRedirect(request.get_full_path())
        return super().response_action(request, queryset)


admin.site.unregister(get_user_model())
admin.site.unregister(Group)


@admin.register(get_user_model())
class LablogUserAdmin(GuardedAdmin, UserAdmin):
    pass


@admin.register(Group)
class LablogGroupAdmin(GuardedAdmin, GroupAdmin):
    pass
