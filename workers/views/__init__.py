"""Views of runnable entries, split by concern: runnables (add, edit, run), runs (state,
cancel, re-run), artifacts (auth-checked file serving) and compare."""
