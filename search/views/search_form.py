"""The search parameters of /search/ as a form: query, mode and filters, all in the URL."""

from functools import cache

from django import forms

from notes.forms import PaperTypeAhead
from notes.models import Tag
from search.prepared import Prepared
from search.services import SearchFilters

MODES = [("hybrid", "Hybrid"), ("semantic", "Meaning"), ("keyword", "Words")]
KINDS = [("note", "Notes"), ("paper", "Papers"), ("snippet", "Snippets"), ("run", "Runs")]
# Deep enough for any real paging; keeps the offset handed to the search service sane.
MAX_PAGE = 1000


# Every full results page lists the user's tags: the SQL compiled once (search/prepared.py).
_TAG_NAMES = Prepared(lambda user_id: Tag.objects.for_user(user_id).values_list("name"))


class SearchForm(PaperTypeAhead):
    q = forms.CharField(required=False, label="Search", widget=forms.TextInput(attrs={"type": "search"}))
    mode = forms.ChoiceField(choices=MODES, required=False, widget=forms.RadioSelect)
    tag = forms.ChoiceField(required=False)
    kind = forms.MultipleChoiceField(choices=KINDS, required=False, widget=forms.CheckboxSelectMultiple)
    page = forms.IntegerField(required=False, min_value=1, max_value=MAX_PAGE, widget=forms.HiddenInput)
    field_order = ["q", "mode", "tag", "paper", "kind", "page"]

    def __init__(self, user, data, **kwargs):
        super().__init__(data, **kwargs)
        self.user = user
        # "from" and "to" are Python keywords, hence added by name rather than declared.
        self.fields["from"] = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
        self.fields["to"] = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
        # Callables: read only when a select is rendered or a tag/paper value is checked, so
        # the live dropdown (neither) costs no queries for them; and read once per form (the
        # select and the check each iterate them).
        self.fields["tag"].choices = cache(lambda: [("", "Any tag")] + [(t, t) for (t,) in _TAG_NAMES.rows(user.pk)])

    def search_args(self) -> dict:
        """Keyword arguments for the search service from the valid fields; a bad field is left out
        (and shown as an error next to it), so odd input narrows nothing and never fails."""
        self.is_valid()
        data = self.cleaned_data
        return {
            "query": data.get("q") or "",
            "mode": data.get("mode") or "hybrid",
            "filters": SearchFilters(
                tag=data.get("tag") or None,
                paper_id=data.get("paper"),
                date_from=data.get("from"),
                date_to=data.get("to"),
                kinds=tuple(data.get("kind") or (k for k, _ in KINDS)),
            ),
            "page": data.get("page") or 1,
        }
