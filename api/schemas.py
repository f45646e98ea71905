from datetime import date, datetime
from typing import Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import AfterValidator

MAX_ID = 2**63 - 1


def _storable(value: str) -> str:
    """Text the database can store: PostgreSQL refuses NUL, and lone surrogates are not UTF-8."""
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    return value


Text = Annotated[str, AfterValidator(_storable)]

SnippetKind = Literal["quote", "code", "equation", "link"]
SearchMode = Literal["hybrid", "semantic", "keyword"]
SearchKind = Literal["note", "paper", "snippet", "run"]


class Error(Schema):
    # A sentence, or (for 422 from request validation) pydantic's list of field errors.
    detail: str | list[dict[str, Any]]


class NoteOut(Schema):
    id: int
    title: str
    body: str
    tags: list[str]
    paper_id: int | None
    version: int
    searchable: bool
    created: datetime
    updated: datetime
    url: str


class Conflict(Schema):
    detail: str
    current: NoteOut


class NoteCreate(Schema):
    title: Text = Field("", max_length=300)
    body: Text = ""
    tags: list[Text] = []
    paper_id: int | None = Field(None, ge=1, le=MAX_ID)
    searchable: bool = True


class NoteUpdate(Schema):
    """Fields left out keep their value; base_version is the version the edit was made on."""

    base_version: int = Field(..., ge=1)
    title: Text | None = Field(None, max_length=300)
    body: Text | None = None
    tags: list[Text] | None = None
    paper_id: int | None = Field(None, ge=1, le=MAX_ID)
    searchable: bool | None = None


class PaperOut(Schema):
    id: int
    title: str
    authors: str
    year: int | None
    venue: str
    author_count: int | None
    published: date | None
    arxiv_id: str
    doi: str
    url: str
    abstract: str
    citation_key: str
    version: int
    created: datetime
    updated: datetime


class PaperConflict(Schema):
    detail: str
    current: PaperOut


class PaperIn(Schema):
    title: Text = Field(..., min_length=1, max_length=500)
    authors: Text = ""
    year: int | None = Field(None, ge=1, le=32767)
    venue: Text = Field("", max_length=300)
    author_count: int | None = Field(None, ge=0, le=2**31 - 1)
    published: date | None = None
    arxiv_id: Text = Field("", max_length=40)
    doi: Text = Field("", max_length=200)
    url: Text = Field("", max_length=500)
    abstract: Text = ""
    citation_key: Text = Field("", max_length=200)


class PaperPatch(Schema):
    """Fields left out keep their value; base_version is the version the edit was made on."""

    base_version: int = Field(..., ge=1)
    title: Text | None = Field(None, min_length=1, max_length=500)
    authors: Text | None = None
    year: int | None = Field(None, ge=1, le=32767)
    venue: Text | None = Field(None, max_length=300)
    author_count: int | None = Field(None, ge=0, le=2**31 - 1)
    published: date | None = None
    arxiv_id: Text | None = Field(None, max_length=40)
    doi: Text | None = Field(None, max_length=200)
    url: Text | None = Field(None, max_length=500)
    abstract: Text | None = None
    citation_key: Text | None = Field(None, max_length=200)


class SnippetOut(Schema):
    id: int
    note_id: int
    kind: SnippetKind
    text: str
    locator: str
    language: str
    url: str
    comment: str
    position: int
    version: int
    created: datetime
    updated: datetime


class SnippetConflict(Schema):
    detail: str
    current: SnippetOut


class SnippetIn(Schema):
    kind: SnippetKind = "quote"
    text: Text = ""
    locator: Text = Field("", max_length=200)
    language: Text = Field("", max_length=40)
    url: Text = Field("", max_length=1000)
    comment: Text = ""


class SnippetPatch(Schema):
    """Fields left out keep their value; base_version is the version the edit was made on."""

    base_version: int = Field(..., ge=1)
    kind: SnippetKind | None = None
    text: Text | None = None
    locator: Text | None = Field(None, max_length=200)
    language: Text | None = Field(None, max_length=40)
    url: Text | None = Field(None, max_length=1000)
    comment: Text | None = None


class HitOut(Schema):
    kind: SearchKind
    object_id: int
    note_id: int | None
    title: str
    passage: str
    passage_start: int
    passage_end: int
    score: float
    url: str
    tags: list[str]
    paper_id: int | None
    paper_title: str | None
    date: datetime | None
    notes: list["HitOut"] = Field([], description="A paper hit: the found notes about that paper, beneath it.")


HitOut.model_rebuild()


class SearchOut(Schema):
    hits: list[HitOut]
    total: int
    mode: SearchMode
    took_ms: float


class SearchQuery(Schema):
    q: Text = Field(..., max_length=2000)
    mode: SearchMode = "hybrid"
    tag: Text | None = Field(None, max_length=64)
    paper_id: int | None = Field(None, ge=1, le=MAX_ID)
    date_from: date | None = None
    date_to: date | None = None
    kinds: list[SearchKind] = ["note", "paper", "snippet", "run"]
    limit: int = Field(10, ge=1, le=100)
    offset: int = Field(0, ge=0, le=10_000)
