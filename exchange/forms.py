from django import forms
from django.conf import settings

from exchange.importers import FORMATS
from exchange.uploads import megabytes


class ImportForm(forms.Form):
    file = forms.FileField(required=False, help_text="A .txt, .md, .zip, .bib, .ris or .json file (Lablog or CSL JSON).")
    text = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 8}), label="…or paste text")
    format = forms.ChoiceField(choices=[("", "Detect it")] + list(FORMATS.items()), required=False)

    def __init__(self, *args, oversized_text: int = 0, **kwargs):
        """`oversized_text`: the size of a pasted text too big to be read (over
        DATA_UPLOAD_MAX_MEMORY_SIZE); the form then says so instead of importing."""
        super().__init__(*args, **kwargs)
        self.oversized_text = oversized_text

    def clean_text(self):
        if self.oversized_text:
            raise forms.ValidationError(
                f"That text is {megabytes(self.oversized_text)}; paste at most "
                f"{megabytes(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)} here, or upload it as a file "
                f"(up to {megabytes(settings.EXCHANGE_UPLOAD_MAX_BYTES)})."
            )
        return self.cleaned_data["text"]

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if upload and upload.size > settings.EXCHANGE_UPLOAD_MAX_BYTES:
            raise forms.ValidationError(
                f"The file is {upload.size:,} bytes; the limit is {settings.EXCHANGE_UPLOAD_MAX_BYTES:,}."
            )
        return upload

    def clean(self):
        data = super().clean()
        if self.has_error("text"):
            return data
        if not data.get("file") and not (data.get("text") or "").strip():
            raise forms.ValidationError("Choose a file or paste some text.")
        if data.get("file") and (data.get("text") or "").strip():
            raise forms.ValidationError("Choose a file or paste text, not both.")
        return data

    def upload(self) -> tuple[str, bytes]:
        """(name, bytes) of what is to be imported."""
        if self.cleaned_data.get("file"):
            upload = self.cleaned_data["file"]
            return upload.name, upload.read()
        return "pasted text", self.cleaned_data["text"].encode("utf-8")
