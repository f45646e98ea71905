"""A note's runnables, runs and artifacts from a Lablog JSON export (exchange/run_export.py).

Runnables and runs have no source key: in the account the export came from they are found
by id; elsewhere a runnable is the note's runnable of that kind made at that instant, and a
run the runnable's run made at that instant (an import keeps both instants), so importing
the same file again finds what the first import made. Every new run's id is recorded in
ctx.mapped, so `run:N/file.png` references can be renumbered once all notes are in.

A run that was queued or running when exported is not sent to a worker here: it comes in
failed, saying so, and can be re-run with one click.
"""

from django.db import transaction

from exchange import origin
from exchange.importers.base import ItemError, file_bytes, iso_date
from exchange.run_export import RUN_FIELDS, RUN_TIMES
from workers.models import Run, RunArtifact, Runnable
from workers.signals import run_finished

INTERRUPTED = "interrupted: it was {status} when exported, so it was imported as failed"


def _runnable(note, entry: dict, same_account: bool) -> tuple[Runnable, bool]:
    if not isinstance(entry, dict) or not isinstance(entry.get("kind"), str) or not entry["kind"]:
        raise ItemError("a runnable needs a kind")
    pk = origin.own_pk(entry.get("key"), "runnable", same_account)
    if pk is not None and (found := Runnable.objects.filter(pk=pk, note=note).first()):
        return found, False
    created_at = iso_date(entry.get("created"))
    if created_at and (found := Runnable.objects.filter(note=note, kind=entry["kind"], created=created_at).first()):
        return found, False
    params = entry.get("params") if isinstance(entry.get("params"), dict) else {}
    runnable = Runnable.objects.create(note=note, kind=entry["kind"], params=params, **(
        {"created": created_at} if created_at else {}))
    return runnable, True


def _run(runnable, entry: dict, same_account: bool) -> tuple[Run, bool]:
    if not isinstance(entry, dict):
        raise ItemError("a run must be an object")
    pk = origin.own_pk(entry.get("key"), "run", same_account)
    if pk is not None and (found := Run.objects.filter(pk=pk, runnable=runnable).first()):
        return found, False
    times = {name: iso_date(entry.get(name)) for name in RUN_TIMES}
    if times["created"] and (found := Run.objects.filter(runnable=runnable, created=times["created"]).first()):
        return found, False
    fields = {name: entry[name] for name in RUN_FIELDS if entry.get(name) is not None}
    for name in ("params", "metrics"):
        if not isinstance(fields.get(name, {}), dict):
            raise ItemError(f"a run's {name} must be an object")
    status = fields.get("status", Run.FAILED)
    if status not in dict(Run.STATUS_CHOICES) or status not in Run.ENDED:
        fields["status"] = Run.FAILED
        fields["error"] = INTERRUPTED.format(status=status) + (f"\n{fields['error']}" if fields.get("error") else "")
    run = Run(runnable=runnable, **fields, **{k: v for k, v in times.items() if v})
    run.full_clean(exclude=["runnable", "params", "metrics"])  # {} is a valid value for both
    run.save()
    # As for a run that ends here: its summary becomes searchable with its note.
    pk, status, note_id, user_id = run.pk, run.status, runnable.note_id, runnable.note.user_id
    transaction.on_commit(
        lambda: run_finished.send(sender=Run, run_id=pk, note_id=note_id, user_id=user_id, status=status)
    )
    return run, True


def import_runnables(ctx, note, entries, same_account: bool) -> list[tuple[str, bool]]:
    """Recreate the note's runnables, runs and artifacts; returns ("runs", created) per run."""
    if not isinstance(entries, list):
        raise ItemError('"runnables" must be a list')
    saved = []
    for entry in entries:
        runnable, _ = _runnable(note, entry, same_account)
        runs = entry.get("runs") or []
        if not isinstance(runs, list):
            raise ItemError('"runs" must be a list')
        for run_entry in runs:
            run, created = _run(runnable, run_entry, same_account)
            if isinstance(run_entry.get("id"), int):
                ctx.mapped[("run", run_entry["id"])] = run.pk
            have = set(run.artifacts.values_list("name", flat=True))
            for artifact in run_entry.get("artifacts") or []:
                if not isinstance(artifact, dict) or artifact.get("name") in have:
                    continue
                data = file_bytes(artifact, "artifact")
                try:
                    stored = RunArtifact.store(run, str(artifact.get("name")), data,
                                               str(artifact.get("content_type") or "application/octet-stream"))
                except ValueError as exc:
                    raise ItemError(str(exc)) from None
                if made := iso_date(artifact.get("created")):
                    RunArtifact.objects.filter(pk=stored.pk).update(created=made)
            saved.append(("runs", created))
    return saved
