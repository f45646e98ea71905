"""The embedding backends give the same vectors: ONNX for queries, OpenVINO bfloat16 for
bulk batches on CPUs that do bf16 in hardware, torch (fp32 or bf16) when forced."""

import numpy as np
import pytest

from search import embedding

TEXTS = [
    "Classifier-free guidance trades sample diversity for fidelity.",
    "We lowered the learning rate after the loss exploded at step 3000.",
    "Sourdough needs a long cold proof in the fridge overnight.",
    "Message passing neural networks aggregate neighbour features.",
] * 3


def vectors(settings, backend):
    settings.EMBEDDING_BACKEND = backend
    return embedding.embed(TEXTS)


@pytest.mark.parametrize("backend", ["openvino", "torch-bf16", "torch"])
def test_every_backend_gives_unit_vectors_within_cosine_099_of_onnx(settings, backend):
    onnx, other = vectors(settings, "onnx"), vectors(settings, backend)
    assert other.dtype == np.float32 and other.shape == onnx.shape
    assert np.allclose(np.linalg.norm(other, axis=1), 1.0, atol=1e-5)
    assert (np.sum(onnx * other, axis=1) >= 0.99).all()


def test_openvino_really_answers_bulk_batches(settings):
    """Not a silent fallback to torch: the OpenVINO embedder loads and is the one used."""
    from search.onnx_backend import OpenVinoEmbedder

    vectors(settings, "openvino")
    assert isinstance(embedding._get_exported(None, "openvino"), OpenVinoEmbedder)


def test_a_query_embeds_like_the_same_text_in_a_batch(settings):
    settings.EMBEDDING_BACKEND = "auto"
    settings.EMBEDDING_QUERY_PRECISION = "fp32"
    batch = embedding.embed(TEXTS)
    assert float(embedding.embed_query(TEXTS[1]) @ batch[1]) >= 0.999


def test_queries_by_the_int8_model_find_their_own_text_first(settings):
    """Queries are embedded with int8 weights by default (a third of the CPU), passages in
    fp32: each query stays a unit vector near its fp32 one and nearest its own text."""
    settings.EMBEDDING_BACKEND = "auto"
    settings.EMBEDDING_QUERY_PRECISION = "int8"
    passages = embedding.embed(TEXTS[:4])
    for i, text in enumerate(TEXTS[:4]):
        query = embedding.embed_query(text)
        assert np.isclose(np.linalg.norm(query), 1.0, atol=1e-5)
        assert float(query @ passages[i]) >= 0.98
        assert int(np.argmax(passages @ query)) == i
    assert embedding._exported.get((embedding.model_name(), "onnx-query-int8"))  # loaded, not a fallback to torch fp32


def test_auto_embeds_queries_with_onnx_and_bulk_with_openvino_bf16_only_where_the_cpu_has_it(settings):
    settings.EMBEDDING_BACKEND = "auto"
    assert embedding.backend_for(1) == "onnx"
    assert embedding.backend_for(embedding.BULK_MIN_TEXTS) == ("openvino" if embedding.cpu_has_bf16() else "onnx")
    settings.EMBEDDING_BACKEND = "onnx"
    assert embedding.backend_for(1000) == "onnx"


def test_a_web_process_starts_with_its_query_model_loaded_or_without_one(settings, tmp_path, caplog):
    """lablog/wsgi.py loads it as a process starts; a missing model is said, not fatal."""
    settings.EMBEDDING_BACKEND = "auto"
    embedding.load_query_model()
    assert embedding._exported.get((embedding.model_name(), "onnx-query-int8"))
    settings.EMBEDDING_MODEL = str(tmp_path / "gone")
    embedding.load_query_model()
    assert "unavailable" in caplog.text
