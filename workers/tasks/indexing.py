"""Search indexing tasks (queue `embed`, and `index` for the single index writer)."""
