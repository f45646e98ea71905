"""Shared by the search commands: --user takes a username or an id."""

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError


def resolve_user(value):
    User = get_user_model()
    if value is None:
        users = list(User.objects.order_by("pk")[:2])
        if len(users) != 1:
            raise CommandError("say whose notes with --user USERNAME (or id)")
        return users[0]
    user = User.objects.filter(username=value).first()
    if user is None and str(value).isdigit():
        user = User.objects.filter(pk=int(value)).first()
    if user is None:
        raise CommandError(f"no user {value!r}")
    return user


def users_or_all(value):
    return [resolve_user(value)] if value is not None else list(get_user_model().objects.order_by("pk"))
