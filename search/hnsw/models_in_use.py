"""Which model's index serves a user during a model switch (see search/indexing.py): their
searches use the active model until every source has the configured one's vectors; the
writer keeps snapshots of both meanwhile, and of no model that is neither."""

from search.embedding import active_model, model_name


def searched(user_id: int, recorded: str) -> str:
    """The model the user's searches use: the one recorded with their index position (read
    in the same instant as it), or the configured one before any was recorded."""
    return recorded or active_model(user_id)


def in_use(user_id: int) -> list[str]:
    """The model the user's searches use and, during a switch, the one being switched to."""
    return list(dict.fromkeys([active_model(user_id), model_name()]))


def retired(user_id: int, model: str) -> bool:
    """Neither searched nor being switched to: a snapshot of it would be empty garbage."""
    return model not in in_use(user_id)
