from django import forms
from django.conf import settings


class TokenForm(forms.Form):
    EXPIRY_CHOICES = [(7, "7 days"), (30, "30 days"), (90, "90 days"), (365, "1 year"), (0, "Never")]

    name = forms.CharField(max_length=100, help_text="What uses it, e.g. “laptop script”.")
    days = forms.TypedChoiceField(
        choices=EXPIRY_CHOICES, coerce=int, initial=settings.API_TOKEN_DEFAULT_DAYS, label="Expires after"
    )
