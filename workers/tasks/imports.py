"""Import tasks (queue `default`): a web upload is imported in the background."""
