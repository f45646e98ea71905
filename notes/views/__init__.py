"""Views of the notes app, one module per concern (log, notes, revisions, snippets, papers)."""
