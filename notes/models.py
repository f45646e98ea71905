"""Papers, notes, snippets, revisions and wiki-links.

Every row belongs to one user; views always look rows up through the owner
(`Note.objects.for_user(user)`), so another user's id is simply not found.
"""

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

from notes import arxiv, signals


class OwnedQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(user=user)


# Limits every way in (web, API, importers, admin) meets, because they are checked here.
MAX_TAGS_PER_NOTE = 64
TAG_MAX_LENGTH = 64


def validate_body(body: str) -> None:
    limit = settings.NOTE_BODY_MAX_BYTES
    size = len((body or "").encode("utf-8", "surrogatepass"))
    if size > limit:
        raise ValidationError(
            f"This note is too long to save: {size:,} bytes, the limit is {limit:,}. Split it into several notes.",
            code="body_too_long",
        )


def validate_tags(names) -> None:
    names = list(names)
    if len(names) > MAX_TAGS_PER_NOTE:
        raise ValidationError(
            f"A note can have at most {MAX_TAGS_PER_NOTE} tags; this one has {len(names):,}.", code="too_many_tags"
        )
    for name in names:
        if len(name) > TAG_MAX_LENGTH:
            raise ValidationError(
                f"A tag is at most {TAG_MAX_LENGTH} characters; “{name[:30]}…” has {len(name)}.", code="tag_too_long"
            )


class TagQuerySet(OwnedQuerySet):
    def prune(self, user_id) -> int:
        """Delete the user's tags no note uses any more (tag lists show only tags in use)."""
        return self.filter(user_id=user_id, notes__isnull=True).delete()[0]


class Tag(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=TAG_MAX_LENGTH)

    objects = TagQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="tag_unique_per_user")]

    def __str__(self):
        return self.name


class Paper(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="papers")
    title = models.CharField(max_length=500)
    authors = models.TextField(blank=True, help_text="One author per line, or comma-separated.")
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    venue = models.CharField(max_length=300, blank=True)
    author_count = models.PositiveIntegerField(
        null=True, blank=True, help_text="How many authors the paper has, when the full list is not known."
    )
    published = models.DateField(null=True, blank=True, help_text="The day it appeared (preprint or publication).")
    arxiv_id = models.CharField("arXiv id", max_length=40, blank=True, db_index=True)
    doi = models.CharField("DOI", max_length=200, blank=True)
    url = models.URLField(max_length=500, blank=True)
    abstract = models.TextField(blank=True)
    citation_key = models.CharField(max_length=200, blank=True)
    # Importers give each item a stable key so importing again updates, never duplicates.
    source_key = models.CharField(max_length=300, blank=True, db_index=True)
    # Bumped by every edit; an edit names the version it was made on (as for notes).
    version = models.PositiveIntegerField(default=1, editable=False)
    created = models.DateTimeField(default=timezone.now, editable=False)
    updated = models.DateTimeField(auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "arxiv_id"], condition=~Q(arxiv_id=""), name="paper_unique_arxiv_per_user"
            ),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("notes:paper", args=[self.pk])

    def save(self, *args, **kwargs):
        if self.arxiv_id:
            self.arxiv_id = arxiv.normalize(self.arxiv_id) or self.arxiv_id
        # The date names the year; a year alone (BibTeX, old rows) is kept as it is.
        if self.published and self.year != self.published.year:
            self.year = self.published.year
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "year"}
        super().save(*args, **kwargs)
        signals.send_on_commit(signals.paper_changed, Paper, paper_id=self.pk, user_id=self.user_id)

    def apply_edit(self, *, base_version: int, **fields) -> "Paper":
        """Save an edit made on top of `base_version`; EditConflict when it was edited since."""
        return versioned_edit(self, base_version, fields, exclude=["user"])

    @property
    def author_list(self) -> list[str]:
        sep = "\n" if "\n" in self.authors else ","
        return [a.strip() for a in self.authors.split(sep) if a.strip()]

    @property
    def arxiv_url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv_id}" if self.arxiv_id else ""


class EditConflict(Exception):
    """A save based on a version that is no longer the latest; carries the current row
    (a note, a paper or a snippet)."""

    def __init__(self, current):
        super().__init__(f"{current._meta.model_name} {current.pk} is at version {current.version}")
        self.current = current


def versioned_edit(obj, base_version: int, fields: dict, exclude=()):
    """Set `fields` on the latest `obj` if it is still at `base_version` (under a row lock), bump
    its version and save; the row unchanged when they are what it has already (a repeated save).
    Validates the model (its limits included) before saving."""
    model = type(obj)
    with transaction.atomic():
        current = model.objects.select_for_update().get(pk=obj.pk)
        changed = {name: value for name, value in fields.items() if getattr(current, name) != value}
        if not changed:
            return current
        if current.version != base_version:
            raise EditConflict(current)
        for name, value in changed.items():
            setattr(current, name, value)
        current.full_clean(exclude=list(exclude), validate_unique=False, validate_constraints=False)
        current.version += 1
        current.save(update_fields=[*changed, "version", "updated"])
    return current


def derive_title(title: str, body: str) -> str:
    """The given title, else the first non-empty line of the body without markdown marks."""
    title = " ".join(title.split())
    if title:
        return title[:300]
    for line in body.splitlines():
        line = re.sub(r"^\s{0,3}(#{1,6}\s+|[-*+]\s+(\[[ xX]\]\s+)?|>\s*|\d+[.)]\s+)", "", line)
        line = " ".join(line.strip("#*_`= ").split())
        if line:
            return line[:120]
    return "Untitled"


def parse_tags(text: str) -> list[str]:
    """`"ML, #diffusion  guidance"` -> `["ml", "diffusion", "guidance"]` (order kept, no repeats)."""
    names = []
    for raw in re.split(r"[,\s]+", text or ""):
        name = raw.strip().lstrip("#").strip().lower()
        if name and name not in names:
            names.append(name)
    return names


class NoteQuerySet(OwnedQuerySet):
    def with_title(self, title: str):
        return self.annotate(title_lower=Lower("title")).filter(title_lower=" ".join(title.split()).lower())

    def existing_keys(self, titles) -> set[str]:
        """Which of these wiki-link titles name an existing note (as NoteLink keys)."""
        keys = {NoteLink.key_for(t) for t in titles}
        if not keys:
            return set()
        found = self.annotate(title_lower=Lower("title")).filter(title_lower__in=keys).values_list("title", flat=True)
        return {NoteLink.key_for(t) for t in found} & keys

    def create_note(self, user, *, title="", body="", tags=(), paper=None, client_id=None, source_key="", created=None):
        """Create a note once: a repeated request with the same client_id returns the first note."""
        if client_id:
            existing = self.filter(user=user, client_id=client_id).first()
            if existing:
                return existing
        validate_body(body)
        now = timezone.now()
        with transaction.atomic():
            note = self.model(
                user=user, title=derive_title(title, body), body=body, paper=paper, client_id=client_id,
                source_key=source_key, created=created or now, updated=now,
            )
            try:
                with transaction.atomic():
                    note.save()
            except IntegrityError:
                return self.get(user=user, client_id=client_id)
            note.set_tags(tags)
            note.sync_links()
            note.notify_changed()
        return note


class Note(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notes")
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="notes")
    paper = models.ForeignKey(Paper, null=True, blank=True, on_delete=models.SET_NULL, related_name="notes")
    # Bumped by every save; a save must name the version it was based on (optimistic locking).
    version = models.PositiveIntegerField(default=1)
    # Kept out of semantic search and related notes when False.
    searchable = models.BooleanField(default=True)
    # The client's id for a new note, so a double-submitted "create" makes one note.
    client_id = models.UUIDField(null=True, blank=True, editable=False)
    source_key = models.CharField(max_length=300, blank=True, db_index=True)
    # Rendered HTML is cached per revision and renderer: recomputed only when `version` or
    # notes.rendering.renderer_id() moves (setting rendered_version=0 also invalidates it).
    rendered_html = models.TextField(blank=True, editable=False)
    rendered_version = models.PositiveIntegerField(default=0, editable=False)
    rendered_with = models.PositiveIntegerField(default=0, editable=False)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(default=timezone.now)

    objects = NoteQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-pk"]
        indexes = [models.Index(fields=["user", "-created"]), models.Index(fields=["user", "-updated"])]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "client_id"], condition=Q(client_id__isnull=False), name="note_unique_client_id"
            ),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("notes:note", args=[self.pk])

    def notify_changed(self):
        """Tell listeners (search indexing) once the surrounding transaction commits."""
        signals.send_on_commit(signals.note_changed, Note, note_id=self.pk, user_id=self.user_id, version=self.version)

    def clean(self):
        validate_body(self.body)

    def tag_names(self) -> list[str]:
        return [t.name for t in self.tags.all()]

    def set_tags(self, names) -> None:
        names = list(names)
        validate_tags(names)
        before = set(self.tags.values_list("pk", flat=True))
        tags = [Tag.objects.get_or_create(user_id=self.user_id, name=name)[0] for name in names]
        self.tags.set(tags)
        if before - {t.pk for t in tags}:
            Tag.objects.filter(pk__in=before).prune(self.user_id)

    def sync_links(self) -> None:
        """Store the [[wiki-links]] the body makes, for backlinks."""
        from notes.rendering import extract_wikilinks

        targets = {NoteLink.key_for(t): t for t in extract_wikilinks(self.body)}
        self.outgoing_links.exclude(target_key__in=targets).delete()
        have = set(self.outgoing_links.values_list("target_key", flat=True))
        NoteLink.objects.bulk_create(
            [NoteLink(source=self, target_title=t[:300], target_key=k[:300]) for k, t in targets.items() if k not in have]
        )

    def backlinks(self):
        """The owner's notes that link here by title."""
        return (
            Note.objects.filter(user_id=self.user_id, outgoing_links__target_key=NoteLink.key_for(self.title))
            .exclude(pk=self.pk)
            .distinct()
        )

    def apply_edit(self, *, base_version: int, title: str, body: str, tags=None, paper=..., searchable=None) -> "Note":
        """Save an edit made on top of `base_version`, keeping the previous text as a revision.

        Raises EditConflict when someone saved in between (another tab, another device)
        unless the stored text already equals this edit (a repeated or raced save).
        """
        title = derive_title(title, body)
        validate_body(body)
        with transaction.atomic():
            current = Note.objects.select_for_update().get(pk=self.pk)
            wanted_tags = sorted(tags) if tags is not None else None
            same = (
                current.title == title
                and current.body == body
                and (wanted_tags is None or sorted(current.tag_names()) == wanted_tags)
                and (paper is ... or current.paper_id == (paper.pk if paper else None))
                and (searchable is None or current.searchable == searchable)
            )
            if same:
                return current
            if current.version != base_version:
                raise EditConflict(current)
            Revision.objects.create(
                note=current, version=current.version, title=current.title, body=current.body,
                tags=",".join(current.tag_names()), created=current.updated,
            )
            current.title, current.body = title, body
            current.version += 1
            current.updated = timezone.now()
            fields = ["title", "body", "version", "updated"]
            if paper is not ...:
                current.paper = paper
                fields.append("paper")
            if searchable is not None:
                current.searchable = searchable
                fields.append("searchable")
            current.save(update_fields=fields)
            if tags is not None:
                current.set_tags(tags)
            current.sync_links()
            current.notify_changed()
        return current

    def restore(self, revision: "Revision", *, base_version: int) -> "Note":
        """Make an old revision the latest version (the text it replaces becomes a revision too)."""
        return self.apply_edit(
            base_version=base_version, title=revision.title, body=revision.body, tags=parse_tags(revision.tags)
        )

    def linked_html(self) -> str:
        """The rendered body with wiki-links to notes that do not exist yet marked as missing, and
        references to the note's own files pointing at them."""
        from notes.attachments import show_in_html
        from notes.rendering import mark_missing_wikilinks

        targets = self.outgoing_links.values_list("target_title", flat=True)
        html = mark_missing_wikilinks(self.html(), Note.objects.for_user(self.user_id).existing_keys(targets))
        return show_in_html(html, self)

    def html(self) -> str:
        """The rendered body, from the cache when it is of this version and this renderer."""
        from notes.rendering import render_markdown, renderer_id

        renderer = renderer_id()
        if (self.rendered_version, self.rendered_with) != (self.version, renderer):
            self.rendered_html = render_markdown(self.body)
            self.rendered_version, self.rendered_with = self.version, renderer
            Note.objects.filter(pk=self.pk, version=self.version).update(
                rendered_html=self.rendered_html, rendered_version=self.version, rendered_with=renderer
            )
        return self.rendered_html


class Revision(models.Model):
    """The note as it was before a save: title, body and tags of one version."""

    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="revisions")
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    tags = models.TextField(blank=True, help_text="Comma-separated tag names at that version.")
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-version"]
        constraints = [models.UniqueConstraint(fields=["note", "version"], name="revision_unique_version")]

    def __str__(self):
        return f"{self.note_id} v{self.version}"


class NoteLink(models.Model):
    """A [[wiki-link]] written in a note, by target title (resolved when shown,
    so a link to a note created later starts working by itself)."""

    source = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="outgoing_links")
    target_title = models.CharField(max_length=300)
    target_key = models.CharField(max_length=300, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "target_key"], name="notelink_unique")]

    @staticmethod
    def key_for(title: str) -> str:
        return " ".join(title.split()).casefold()


class Attachment(models.Model):
    """A file a note shows or links to (an image its imported vault embedded), kept in the
    database beside the note: the web host and other hosts share nothing else."""

    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="attachments")
    # As the note's text refers to it, so the text needs no rewriting: `images/a.png`, `Pasted image 1.png`.
    name = models.CharField(max_length=500)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    data = models.BinaryField()
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["note", "name"], name="attachment_unique_name")]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("notes:attachment", args=[self.note_id, self.name])


def note_files(note: Note):
    """A note's files by name, without their bytes (what lists of them show)."""
    return note.attachments.order_by("name").defer("data")


class Snippet(models.Model):
    QUOTE, CODE, EQUATION, LINK = "quote", "code", "equation", "link"
    KIND_CHOICES = [(QUOTE, "Quote"), (CODE, "Code"), (EQUATION, "Equation"), (LINK, "Link")]

    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="snippets")
    kind = models.CharField(max_length=16, choices=KIND_CHOICES, default=QUOTE)
    text = models.TextField(blank=True, help_text="The quote, code or LaTeX equation.")
    locator = models.CharField(max_length=200, blank=True, help_text="Page or section of a quote.")
    language = models.CharField(max_length=40, blank=True, help_text="Language of a code block.")
    url = models.URLField(max_length=1000, blank=True)
    comment = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0)
    source_key = models.CharField(max_length=300, blank=True, db_index=True)
    # Bumped by every edit of its content (not by moving it); an edit names the version it was made on.
    version = models.PositiveIntegerField(default=1, editable=False)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self):
        return f"{self.get_kind_display()} on {self.note_id}"

    @classmethod
    def for_user(cls, user):
        return cls.objects.filter(note__user=user)

    def save(self, *args, **kwargs):
        if self._state.adding and not self.position:
            last = Snippet.objects.filter(note_id=self.note_id).aggregate(m=models.Max("position"))["m"]
            self.position = (last or 0) + 1
        super().save(*args, **kwargs)
        signals.send_on_commit(signals.snippet_changed, Snippet, snippet_id=self.pk, note_id=self.note_id)

    def apply_edit(self, *, base_version: int, **fields) -> "Snippet":
        """Save an edit made on top of `base_version`; EditConflict when it was edited since."""
        return versioned_edit(self, base_version, fields, exclude=["note"])

    def move(self, offset: int) -> None:
        """Move this snippet `offset` places up (negative) or down its note's list."""
        ids = list(Snippet.objects.filter(note_id=self.note_id).values_list("pk", flat=True))
        at = ids.index(self.pk)
        to = max(0, min(len(ids) - 1, at + offset))
        ids.insert(to, ids.pop(at))
        Snippet.reorder(self.note, ids)

    def html(self) -> str:
        """The snippet's body rendered: highlighted code, typeset equation, or escaped text."""
        from django.utils.html import format_html, linebreaks
        from django.utils.safestring import mark_safe

        from notes.rendering import highlight_code, render_equation

        if self.kind == Snippet.CODE:
            return highlight_code(self.text, self.language)
        if self.kind == Snippet.EQUATION:
            return render_equation(self.text)
        if self.kind == Snippet.QUOTE:
            return format_html("<blockquote>{}</blockquote>", mark_safe(linebreaks(self.text, autoescape=True)))
        return ""

    @classmethod
    def reorder(cls, note, ordered_ids: list[int]) -> None:
        """Put the note's snippets in the given order; ids not on the note are ignored."""
        own = set(cls.objects.filter(note=note).values_list("pk", flat=True))
        with transaction.atomic():
            for position, pk in enumerate((i for i in ordered_ids if i in own), start=1):
                cls.objects.filter(pk=pk).update(position=position, updated=timezone.now())
            # The note's passages follow its snippets' order: one change for the whole move.
            signals.send_on_commit(signals.snippet_changed, cls, snippet_id=None, note_id=note.pk)


