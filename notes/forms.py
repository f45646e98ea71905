"""Forms for notes, papers and snippets. Querysets of choices are limited to the owner."""

import uuid

from django import forms
from django.conf import settings
from django.db.models import Q
from django.utils.html import format_html

from lablog.ids import parse_id
from notes import arxiv
from notes.models import TAG_MAX_LENGTH, Note, Paper, Snippet, parse_tags, validate_body, validate_tags


class NoteForm(forms.Form):
    title = forms.CharField(max_length=300, required=False, widget=forms.TextInput(attrs={"placeholder": "Title (or the first line of the body)"}))
    body = forms.CharField(required=False, strip=False, widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "true"}))
    tags = forms.CharField(required=False, widget=forms.TextInput(attrs={"placeholder": "tags, comma or space separated"}))
    paper = forms.ModelChoiceField(queryset=Paper.objects.none(), required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["paper"].queryset = Paper.objects.for_user(user).order_by("title")
        # The editor checks the size before sending: a body far over the limit would otherwise
        # be refused by Django's request size cap with a bare 400 instead of this form's message.
        self.fields["body"].widget.attrs["data-max-bytes"] = settings.NOTE_BODY_MAX_BYTES

    def clean_body(self):
        body = self.cleaned_data["body"].replace("\r\n", "\n")
        validate_body(body)
        return body

    def clean_tags(self):
        names = parse_tags(self.cleaned_data["tags"])
        validate_tags(names)
        return names

    @staticmethod
    def initial_for(note: Note) -> dict:
        return {"title": note.title, "body": note.body, "tags": ", ".join(note.tag_names()), "paper": note.paper_id}


class NewNoteForm(NoteForm):
    # Generated when the form is shown: a double-submitted form creates one note.
    client_id = forms.UUIDField(widget=forms.HiddenInput, required=False)
    # Empty until an autosave has created the note; then the version this page has seen.
    base_version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("client_id", uuid.uuid4())
        super().__init__(*args, **kwargs)


class EditNoteForm(NoteForm):
    base_version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class PaperForm(forms.ModelForm):
    url = forms.URLField(max_length=500, required=False, assume_scheme="https")
    # The version the edit was made on (editing only): a save over a newer one is a conflict.
    base_version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    class Meta:
        model = Paper
        fields = [
            "title", "authors", "author_count", "published", "year", "venue", "arxiv_id", "doi", "url", "citation_key",
            "abstract",
        ]
        widgets = {
            "authors": forms.Textarea(attrs={"rows": 3}),
            "published": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "abstract": forms.Textarea(attrs={"rows": 8}),
            "arxiv_id": forms.TextInput(attrs={"placeholder": "2303.17580 or an arxiv.org abs/pdf URL"}),
        }
        labels = {"author_count": "Number of authors", "published": "Date"}
        help_texts = {
            "arxiv_id": "Paste an arXiv id or any arxiv.org abs/pdf link; it is kept as the bare id.",
            "year": "Filled in from the date when there is one.",
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if self.instance.pk:
            self.fields["base_version"].initial = self.instance.version
            self.fields["base_version"].required = True

    def edited_fields(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}

    def clean_arxiv_id(self):
        raw = self.cleaned_data["arxiv_id"].strip()
        if not raw:
            return ""
        normalized = arxiv.normalize(raw)
        if not normalized:
            raise forms.ValidationError("Not an arXiv id or arxiv.org link (e.g. 2303.17580 or https://arxiv.org/abs/2303.17580).")
        existing = Paper.objects.for_user(self.user).filter(arxiv_id=normalized).exclude(pk=self.instance.pk).first()
        if existing:
            raise forms.ValidationError(
                format_html('You already have this paper: <a href="{}">{}</a>.', existing.get_absolute_url(), existing.title)
            )
        return normalized

    def save(self, commit=True):
        self.instance.user = self.user
        return super().save(commit)


class SnippetForm(forms.ModelForm):
    url = forms.URLField(max_length=1000, required=False, assume_scheme="https", label="URL")
    # The version the edit was made on (editing only): a save over a newer one is a conflict.
    base_version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["base_version"].initial = self.instance.version
            self.fields["base_version"].required = True

    def edited_fields(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}

    class Meta:
        model = Snippet
        fields = ["kind", "text", "locator", "language", "url", "comment"]
        widgets = {
            "text": forms.Textarea(attrs={"rows": 4}),
            "comment": forms.Textarea(attrs={"rows": 2}),
            "locator": forms.TextInput(attrs={"placeholder": "p. 4, §3.2"}),
            "language": forms.TextInput(attrs={"placeholder": "python"}),
        }
        labels = {"text": "Text", "locator": "Page or section"}

    # What each kind must have; the other fields are optional or ignored.
    REQUIRED = {
        Snippet.QUOTE: ("text",),
        Snippet.CODE: ("text",),
        Snippet.EQUATION: ("text",),
        Snippet.LINK: ("url",),
    }
    KEEPS = {
        Snippet.QUOTE: {"text", "locator", "comment"},
        Snippet.CODE: {"text", "language", "comment"},
        Snippet.EQUATION: {"text", "comment"},
        Snippet.LINK: {"url", "comment"},
    }
    MESSAGES = {
        (Snippet.QUOTE, "text"): "A quote needs the quoted text.",
        (Snippet.CODE, "text"): "A code snippet needs some code.",
        (Snippet.EQUATION, "text"): "An equation needs its LaTeX.",
        (Snippet.LINK, "url"): "A link needs a URL.",
    }

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind not in self.REQUIRED:
            return data
        for field in self.REQUIRED[kind]:
            if not (data.get(field) or "").strip() and field not in self.errors:
                self.add_error(field, self.MESSAGES[(kind, field)])
        # Fields that do not belong to the kind are cleared so a kind switch leaves nothing stale.
        for field in {"text", "locator", "language", "url", "comment"} - self.KEEPS[kind]:
            data[field] = ""
        return data


class PaperTypeAhead(forms.Form):
    """A paper filter typed, not picked from a list of every paper: its title (the type-ahead,
    filled by notes:paper_suggest) or its id (links). Subclasses set `self.user`."""

    paper = forms.CharField(required=False, label="Paper", max_length=500, widget=forms.TextInput(attrs={
        "type": "search", "list": "paper-suggestions", "placeholder": "Any paper", "autocomplete": "off",
    }))

    def _named_paper(self, value: str):
        papers = Paper.objects.for_user(self.user)
        pk = parse_id(value)
        paper = papers.filter(pk=pk).first() if pk is not None else None
        return paper or papers.filter(title__iexact=value).order_by("pk").first()

    def clean_paper(self):
        """The paper's id, or None for any paper."""
        value = " ".join((self.cleaned_data.get("paper") or "").split())
        if not value:
            return None
        paper = self._named_paper(value)
        if paper is None:
            raise forms.ValidationError(f"No paper titled “{value[:80]}”.")
        return paper.pk

    def paper_title(self) -> str:
        """What the type-ahead shows: the chosen paper's title (a link may have given its id)."""
        value = (self.data.get("paper") or "").strip()
        paper = self._named_paper(value) if parse_id(value) is not None else None
        return paper.title if paper else value


class LogFilterForm(PaperTypeAhead):
    # Bounded: SQLite refuses a LIKE pattern over 50,000 bytes, and no title is searched with more.
    q = forms.CharField(required=False, max_length=500, label="Text")
    tag = forms.CharField(required=False, max_length=TAG_MAX_LENGTH)
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="From")
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}), label="To")
    field_order = ["q", "tag", "paper", "since", "until"]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def filter(self, notes, *, by_tag=True):
        if not self.is_valid():
            return notes
        data = self.cleaned_data
        if data["q"]:
            notes = notes.filter(Q(title__icontains=data["q"]) | Q(body__icontains=data["q"]))
        if by_tag and data["tag"]:
            notes = notes.filter(tags__name=data["tag"].strip().lower())
        if data["paper"]:
            notes = notes.filter(paper_id=data["paper"])
        if data["since"]:
            notes = notes.filter(created__date__gte=data["since"])
        if data["until"]:
            notes = notes.filter(created__date__lte=data["until"])
        return notes
