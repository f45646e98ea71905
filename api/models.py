"""API tokens: the user sees a token once; only its SHA-256 is stored (a random
256-bit token needs no slow hash), with an expiry and a revocation time."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

PREFIX = "llb_"


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(user=user)

    def usable(self):
        now = timezone.now()
        return self.filter(revoked=None).filter(models.Q(expires=None) | models.Q(expires__gt=now))


class ApiToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters, so the user can tell tokens apart on the page.
    hint = models.CharField(max_length=12, editable=False)
    created = models.DateTimeField(default=timezone.now)
    expires = models.DateTimeField(null=True, blank=True)
    revoked = models.DateTimeField(null=True, blank=True)
    last_used = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-pk"]

    def __str__(self):
        return f"{self.name} ({self.hint}…)"

    @classmethod
    def issue(cls, user, name: str, days: int | None) -> tuple["ApiToken", str]:
        """A new token and its secret, which is shown once and never stored."""
        raw = PREFIX + secrets.token_urlsafe(32)
        expires = timezone.now() + timedelta(days=days) if days else None
        token = cls.objects.create(user=user, name=name, key_hash=digest(raw), hint=raw[:10], expires=expires)
        return token, raw

    @classmethod
    def user_for(cls, raw: str):
        """The owner of a usable token, or None (unknown, expired or revoked)."""
        if not raw.startswith(PREFIX):
            return None
        token = cls.objects.usable().select_related("user").filter(key_hash=digest(raw)).first()
        if token is None or not token.user.is_active:
            return None
        if not token.last_used or timezone.now() - token.last_used > timedelta(minutes=1):
            cls.objects.filter(pk=token.pk).update(last_used=timezone.now())
        return token.user

    @property
    def status(self) -> str:
        if self.revoked:
            return "revoked"
        if self.expires and self.expires <= timezone.now():
            return "expired"
        return "active"

    def revoke(self) -> None:
        if not self.revoked:
            self.revoked = timezone.now()
            self.save(update_fields=["revoked"])
