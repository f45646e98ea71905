"""The JSON API (django-ninja), mounted at /api/: notes, papers, snippets, notes' files
(api/files.py), search, runnables and runs (api/runs.py) for the owner of a bearer token.
Another user's ids are 404, a stale base_version is 409 (as in the web editor), a bad token
401, an oversized body 413."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.shortcuts import get_object_or_404
from ninja import NinjaAPI, Path, Query, Router
from ninja.responses import Status
from ninja.security import HttpBearer

from api import files, runs
from api import schemas as s
from api.models import ApiToken
from exchange.uploads import declared_length
from notes.models import EditConflict, Note, Paper, Snippet, parse_tags, validate_body


class PayloadTooLarge(Exception):
    pass


def body_limit(request) -> int:
    """A file upload (multipart) may carry a note's largest file; any other body API_MAX_BODY_BYTES."""
    if request.content_type == "multipart/form-data":
        return max(settings.API_MAX_BODY_BYTES, settings.NOTE_ATTACHMENT_MAX_BYTES + 64 * 1024)
    return settings.API_MAX_BODY_BYTES


class TokenAuth(HttpBearer):
    def __call__(self, request):
        # Checked before the body is read, so an oversized request costs nothing.
        if declared_length(request) > body_limit(request):
            raise PayloadTooLarge()
        return super().__call__(request)

    def authenticate(self, request, token):
        return ApiToken.user_for(token)


api = NinjaAPI(
    title="Lablog API",
    version="1",
    description="Notes, papers, snippets, a note's files, search, runnables and runs. Authenticate with `Authorization: Bearer <token>` "
    "(make one on the API tokens page).",
    auth=TokenAuth(),
    urls_namespace="api:v1",  # included under the `api` namespace of api/urls.py
    docs_url=None,  # Swagger UI loads from a CDN; the schema is at /api/openapi.json
)


@api.exception_handler(PayloadTooLarge)
def _too_large(request, exc):
    return api.create_response(
        request, {"detail": f"request body over {body_limit(request):,} bytes"}, status=413
    )


@api.exception_handler(runs.InvalidParams)
def _invalid_params(request, exc):
    return api.create_response(request, {"detail": str(exc)}, status=422)


@api.exception_handler(ValidationError)
def _invalid(request, exc):
    return api.create_response(request, {"detail": "; ".join(exc.messages)}, status=422)


# Ids and offsets past these would overflow the database's integers (a 500, not a 404).
MAX_ID = s.MAX_ID
MAX_OFFSET = 1_000_000


def responses(ok: dict) -> dict:
    """The given success (and conflict) responses, plus the errors every operation can answer."""
    return {**ok, 400: s.Error, 401: s.Error, 404: s.Error, 413: s.Error, 422: s.Error}


def _note_out(note: Note) -> dict:
    return {
        "id": note.pk, "title": note.title, "body": note.body, "tags": note.tag_names(), "paper_id": note.paper_id,
        "version": note.version, "searchable": note.searchable, "created": note.created, "updated": note.updated,
        "url": note.get_absolute_url(),
    }


def _paper(user, paper_id):
    return get_object_or_404(Paper.objects.for_user(user), pk=paper_id) if paper_id is not None else None


def _tags(names: list[str]) -> list[str]:
    return parse_tags(",".join(names))


# --- Notes ------------------------------------------------------------------------------
notes = Router(tags=["notes"])


@notes.get("/", response=responses({200: list[s.NoteOut]}))
def list_notes(request, limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=MAX_OFFSET)):
    qs = Note.objects.for_user(request.auth).prefetch_related("tags")[offset:offset + limit]
    return [_note_out(n) for n in qs]


@notes.post("/", response=responses({201: s.NoteOut}))
def create_note(request, payload: s.NoteCreate):
    validate_body(payload.body)
    paper = _paper(request.auth, payload.paper_id)
    note = Note.objects.create_note(
        request.auth, title=payload.title, body=payload.body, tags=_tags(payload.tags), paper=paper
    )
    if not payload.searchable:
        # Before commit, so indexing (on commit) already sees it as private.
        Note.objects.filter(pk=note.pk).update(searchable=False)
        note.searchable = False
    return Status(201, _note_out(note))


@notes.get("/{note_id}", response=responses({200: s.NoteOut}))
def get_note(request, note_id: int = Path(..., ge=1, le=MAX_ID)):
    return _note_out(get_object_or_404(Note.objects.for_user(request.auth), pk=note_id))


@notes.patch("/{note_id}", response=responses({200: s.NoteOut, 409: s.Conflict}))
def update_note(request, payload: s.NoteUpdate, note_id: int = Path(..., ge=1, le=MAX_ID)):
    note = get_object_or_404(Note.objects.for_user(request.auth), pk=note_id)
    given = payload.model_fields_set
    body = payload.body if payload.body is not None else note.body
    validate_body(body)
    try:
        note = note.apply_edit(
            base_version=payload.base_version,
            title=payload.title if payload.title is not None else note.title,
            body=body,
            tags=_tags(payload.tags) if payload.tags is not None else None,
            paper=_paper(request.auth, payload.paper_id) if "paper_id" in given else ...,
            searchable=payload.searchable,
        )
    except EditConflict as conflict:
        return Status(409, {"detail": f"the note was saved since version {payload.base_version}",
                              "current": _note_out(conflict.current)})
    return Status(200, _note_out(note))


@notes.delete("/{note_id}", response=responses({204: None}))
def delete_note(request, note_id: int = Path(..., ge=1, le=MAX_ID)):
    get_object_or_404(Note.objects.for_user(request.auth), pk=note_id).delete()
    return Status(204, None)


# --- Snippets ---------------------------------------------------------------------------
snippets = Router(tags=["snippets"])


def _snippet_out(snippet: Snippet) -> dict:
    return {f: getattr(snippet, f) for f in s.SnippetOut.model_fields if f not in ("id",)} | {"id": snippet.pk}


def _save_snippet(snippet: Snippet) -> Snippet:
    snippet.full_clean(exclude=["note"])
    snippet.save()
    return snippet


@notes.get("/{note_id}/snippets", response=responses({200: list[s.SnippetOut]}))
def list_snippets(request, note_id: int = Path(..., ge=1, le=MAX_ID)):
    note = get_object_or_404(Note.objects.for_user(request.auth), pk=note_id)
    return Status(200, [_snippet_out(sn) for sn in note.snippets.all()])


@notes.post("/{note_id}/snippets", response=responses({201: s.SnippetOut}))
def create_snippet(request, payload: s.SnippetIn, note_id: int = Path(..., ge=1, le=MAX_ID)):
    note = get_object_or_404(Note.objects.for_user(request.auth), pk=note_id)
    return Status(201, _snippet_out(_save_snippet(Snippet(note=note, **payload.dict()))))


@snippets.get("/{snippet_id}", response=responses({200: s.SnippetOut}))
def get_snippet(request, snippet_id: int = Path(..., ge=1, le=MAX_ID)):
    return _snippet_out(get_object_or_404(Snippet.for_user(request.auth), pk=snippet_id))


@snippets.patch("/{snippet_id}", response=responses({200: s.SnippetOut, 409: s.SnippetConflict}))
def update_snippet(request, payload: s.SnippetPatch, snippet_id: int = Path(..., ge=1, le=MAX_ID)):
    snippet = get_object_or_404(Snippet.for_user(request.auth), pk=snippet_id)
    fields = {n: v for n, v in payload.dict(exclude_unset=True).items() if v is not None and n != "base_version"}
    try:
        snippet = snippet.apply_edit(base_version=payload.base_version, **fields)
    except EditConflict as conflict:
        return Status(409, {"detail": f"the snippet was saved since version {payload.base_version}",
                            "current": _snippet_out(conflict.current)})
    return Status(200, _snippet_out(snippet))


@snippets.delete("/{snippet_id}", response=responses({204: None}))
def delete_snippet(request, snippet_id: int = Path(..., ge=1, le=MAX_ID)):
    get_object_or_404(Snippet.for_user(request.auth), pk=snippet_id).delete()
    return Status(204, None)


# --- Papers -----------------------------------------------------------------------------
papers = Router(tags=["papers"])


# Fields a PATCH may clear with null; null for a text field means "".
PAPER_NULLABLE = {"year", "author_count", "published"}


def _paper_out(paper: Paper) -> dict:
    return {f: getattr(paper, f) for f in s.PaperOut.model_fields if f != "id"} | {"id": paper.pk}


def _save_paper(paper: Paper):
    paper.full_clean(exclude=["user"], validate_unique=False, validate_constraints=False)
    try:
        with transaction.atomic():
            paper.save()
    except IntegrityError:
        return Status(409, {"detail": f"you already have a paper with arXiv id {paper.arxiv_id}"})
    return None


@papers.get("/", response=responses({200: list[s.PaperOut]}))
def list_papers(request, limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=MAX_OFFSET)):
    return [_paper_out(p) for p in Paper.objects.for_user(request.auth)[offset:offset + limit]]


@papers.post("/", response=responses({201: s.PaperOut, 409: s.Error}))
def create_paper(request, payload: s.PaperIn):
    paper = Paper(user=request.auth, **payload.dict())
    return _save_paper(paper) or Status(201, _paper_out(paper))


@papers.get("/{paper_id}", response=responses({200: s.PaperOut}))
def get_paper(request, paper_id: int = Path(..., ge=1, le=MAX_ID)):
    return _paper_out(get_object_or_404(Paper.objects.for_user(request.auth), pk=paper_id))


@papers.patch("/{paper_id}", response=responses({200: s.PaperOut, 409: s.PaperConflict | s.Error}))
def update_paper(request, payload: s.PaperPatch, paper_id: int = Path(..., ge=1, le=MAX_ID)):
    paper = get_object_or_404(Paper.objects.for_user(request.auth), pk=paper_id)
    fields = {
        name: value if value is not None or name in PAPER_NULLABLE else ""
        for name, value in payload.dict(exclude_unset=True).items() if name != "base_version"
    }
    try:
        with transaction.atomic():
            paper = paper.apply_edit(base_version=payload.base_version, **fields)
    except EditConflict as conflict:
        return Status(409, {"detail": f"the paper was saved since version {payload.base_version}",
                            "current": _paper_out(conflict.current)})
    except IntegrityError:
        return Status(409, {"detail": f"you already have a paper with arXiv id {fields.get('arxiv_id')}"})
    return Status(200, _paper_out(paper))


@papers.delete("/{paper_id}", response=responses({204: None}))
def delete_paper(request, paper_id: int = Path(..., ge=1, le=MAX_ID)):
    get_object_or_404(Paper.objects.for_user(request.auth), pk=paper_id).delete()
    return Status(204, None)


# --- Search -----------------------------------------------------------------------------
@api.get("/search", response=responses({200: s.SearchOut}), tags=["search"])
def search(request, params: Query[s.SearchQuery]):
    from search.services import SearchFilters, search as run_search

    filters = SearchFilters(
        tag=params.tag, paper_id=params.paper_id, date_from=params.date_from, date_to=params.date_to,
        kinds=tuple(params.kinds),
    )
    page = run_search(request.auth, params.q, mode=params.mode, filters=filters, limit=params.limit,
                      offset=params.offset)
    return {"hits": [vars(h) for h in page.hits], "total": page.total, "mode": page.mode, "took_ms": page.took_ms}


api.add_router("/notes", notes)
api.add_router("", runs.router)
api.add_router("", files.router)
api.add_router("/snippets", snippets)
api.add_router("/papers", papers)
