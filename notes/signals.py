"""Signals the notes app sends after a change has committed. Listeners (the search
app's indexing) are connected explicitly in their AppConfig.ready()."""

from django.dispatch import Signal

note_changed = Signal()  # note_id, user_id, version
note_deleted = Signal()  # note_id, user_id
paper_changed = Signal()  # paper_id, user_id
paper_deleted = Signal()  # paper_id, user_id
snippet_changed = Signal()  # snippet_id, note_id
snippet_deleted = Signal()  # snippet_id, note_id
