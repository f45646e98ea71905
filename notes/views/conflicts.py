"""What a refused paper or snippet save shows: each edited field, yours beside the saved one."""


def conflict_context(form, current, *, kind: str, take_theirs_url: str) -> dict:
    """Context for notes/_edit_conflict.html; the form is bound to the latest version so that
    submitting it again ("keep mine") saves over that version, and only that one."""
    data = form.data.copy()
    data[form.add_prefix("base_version")] = current.version
    form.data = data
    rows = []
    for name in form.Meta.fields:
        yours, theirs = form.cleaned_data.get(name), getattr(current, name)
        rows.append({
            "label": form.fields[name].label or name, "yours": "" if yours is None else yours,
            "theirs": "" if theirs is None else theirs, "differs": yours != theirs,
        })
    return {"conflict": current, "conflict_kind": kind, "conflict_rows": rows, "take_theirs_url": take_theirs_url}
