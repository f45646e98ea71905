"""The search parameters of /search/ as a form: query, mode and filters, all in the URL."""

from django import forms

from notes.models import Paper, Tag
from search.services import SearchFilters

MODES = [("hybrid", "Hybrid"), ("semantic", "Meaning"), ("keyword", "Words")]
KINDS = [("note", "Notes"), ("paper", "Papers"), ("snippet", "Snippets"), ("run", "Runs")]
# Deep enough for any real paging; keeps the offset handed to the search service sane.
MAX_PAGE = 1000


class SearchForm(forms.Form):
    q = forms.CharField(required=False, label="Search", widget=forms.TextInput(attrs={"type": "search"}))
    mode = forms.ChoiceField(choices=MODES, required=False, widget=forms.RadioSelect)
    tag = forms.ChoiceField(required=False)
    # A type-ahead (notes:paper_suggest fills its datalist): a paper's title, or its id from a link.
    paper = forms.CharField(required=False, label="Paper", max_length=500, widget=forms.TextInput(attrs={
        "type": "search", "list": "paper-suggestions", "placeholder": "Any paper", "autocomplete": "off",
    }))
    kind = forms.MultipleChoiceField(choices=KINDS, required=False, widget=forms.CheckboxSelectMultiple)
    page = forms.IntegerField(required=False, min_value=1, max_value=MAX_PAGE, widget=forms.HiddenInput)

    def __init__(self, user, data, **kwargs):
        super().__init__(data, **kwargs)
        self.user = user
        # "from" and "to" are Python keywords, hence added by name rather than declared.
        self.fields["from"] = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
        self.fields["to"] = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))
        # Callables: read only when a select is rendered or a tag/paper value is checked, so
        # the live dropdown (neither) costs no queries for them.
        self.fields["tag"].choices = lambda: [("", "Any tag")] + [
            (t, t) for t in Tag.objects.for_user(user).values_list("name", flat=True)
        ]

    def clean_paper(self):
        """The paper's id, from its id (links) or its exact title (the type-ahead); None for any paper."""
        value = " ".join((self.cleaned_data.get("paper") or "").split())
        if not value:
            return None
        papers = Paper.objects.for_user(self.user)
        paper = papers.filter(pk=int(value)).first() if value.isdigit() and len(value) < 12 else None
        paper = paper or papers.filter(title__iexact=value).order_by("pk").first()
        if paper is None:
            raise forms.ValidationError(f"No paper titled “{value[:80]}”.")
        return paper.pk

    def paper_title(self) -> str:
        """What the type-ahead shows: the chosen paper's title (a link may have given its id)."""
        value = (self.data.get("paper") or "").strip()
        if value.isdigit() and len(value) < 12:
            title = Paper.objects.for_user(self.user).filter(pk=int(value)).values_list("title", flat=True).first()
            return title or value
        return value

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
