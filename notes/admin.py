"""Admin for staff. Note saves go through create_note/apply_edit so a change made here
keeps a revision and is re-indexed like one made in the editor."""

from django import forms
from django.contrib import admin, messages
from django.db import models

from lablog.admin import GuardedAdmin
from notes.models import Attachment, EditConflict, Note, NoteLink, Paper, Revision, Snippet, Tag, validate_tags


# Links typed without a scheme are https (Django 6's default, without its deprecation warning).
URL_HTTPS = {models.URLField: {"assume_scheme": "https"}}


@admin.register(Tag)
class TagAdmin(GuardedAdmin):
    list_display = ["name", "user"]
    list_filter = ["user"]
    search_fields = ["name"]


class VersionBumpingAdmin(GuardedAdmin):
    """A change saved here is a new version, so a tab still editing the old one gets a conflict."""

    def save_model(self, request, obj, form, change):
        if change:
            obj.version += 1
        super().save_model(request, obj, form, change)


@admin.register(Paper)
class PaperAdmin(VersionBumpingAdmin):
    list_display = ["title", "year", "arxiv_id", "user"]
    list_filter = ["user", "year"]
    search_fields = ["title", "authors", "arxiv_id", "citation_key"]
    formfield_overrides = URL_HTTPS


class SnippetInline(admin.StackedInline):
    model = Snippet
    extra = 0
    fields = ["kind", "text", "locator", "language", "url", "comment", "position"]
    formfield_overrides = URL_HTTPS


class RevisionInline(admin.TabularInline):
    model = Revision
    extra = 0
    fields = ["version", "title", "created"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


class AttachmentInline(admin.TabularInline):
    model = Attachment
    extra = 0
    fields = ["name", "content_type", "size", "sha256", "created"]
    readonly_fields = fields  # the bytes are served by the note's file view, not edited in a form

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).defer("data")


class NoteAdminForm(forms.ModelForm):
    class Meta:
        model = Note
        fields = "__all__"

    def clean_tags(self):
        tags = self.cleaned_data["tags"]
        validate_tags([t.name for t in tags])  # the body's limit is checked by Note.clean()
        return tags


@admin.register(Note)
class NoteAdmin(GuardedAdmin):
    form = NoteAdminForm
    list_display = ["title", "user", "created", "updated", "version"]
    list_filter = ["user", "tags"]
    search_fields = ["title", "body"]
    date_hierarchy = "created"
    fields = ["user", "title", "body", "tags", "paper", "searchable", "version", "created", "updated"]
    readonly_fields = ["version", "created", "updated"]
    filter_horizontal = ["tags"]
    inlines = [SnippetInline, AttachmentInline, RevisionInline]

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        form.base_fields["title"].required = False  # derived from the body, as in the editor
        return form

    def save_model(self, request, obj, form, change):
        # The m2m tags are set in save_related, once the note exists.
        self._saved_tags = [t.name for t in form.cleaned_data.get("tags", [])]
        if not change:
            created = Note.objects.create_note(
                obj.user, title=obj.title, body=obj.body, paper=obj.paper, tags=self._saved_tags
            )
            obj.pk, obj.version = created.pk, created.version
            return
        try:
            saved = obj.apply_edit(
                base_version=obj.version, title=obj.title, body=obj.body,
                tags=self._saved_tags, paper=obj.paper, searchable=obj.searchable,
            )
        except EditConflict as conflict:
            messages.error(request, f"Not saved: the note changed meanwhile (now version {conflict.current.version}).")
            return
        obj.version = saved.version

    def save_related(self, request, form, formsets, change):
        # Tags were set by create_note/apply_edit; only the inlines are saved here.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)


@admin.register(Revision)
class RevisionAdmin(GuardedAdmin):
    list_display = ["note", "version", "title", "created"]
    search_fields = ["title", "body"]
    readonly_fields = ["note", "version", "title", "body", "tags", "created"]

    def has_add_permission(self, request):
        return False


@admin.register(Snippet)
class SnippetAdmin(VersionBumpingAdmin):
    list_display = ["__str__", "kind", "note", "position"]
    list_filter = ["kind"]
    formfield_overrides = URL_HTTPS
    search_fields = ["text", "comment", "url"]


@admin.register(NoteLink)
class NoteLinkAdmin(GuardedAdmin):
    list_display = ["source", "target_title"]
    search_fields = ["target_title"]
