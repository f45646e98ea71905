"""The embedding backends give the same vectors: ONNX for queries, bfloat16 torch for bulk
batches on CPUs that do bf16 in hardware."""

import numpy as np

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


def test_bf16_bulk_vectors_are_unit_length_and_within_cosine_099_of_onnx(settings):
    onnx, bf16 = vectors(settings, "onnx"), vectors(settings, "torch-bf16")
    assert np.allclose(np.linalg.norm(bf16, axis=1), 1.0, atol=1e-5)
    assert (np.sum(onnx * bf16, axis=1) >= 0.99).all()


def test_auto_embeds_queries_with_onnx_and_bulk_with_bf16_only_where_the_cpu_has_it(settings):
    settings.EMBEDDING_BACKEND = "auto"
    assert embedding.backend_for(1) == "onnx"
    assert embedding.backend_for(embedding.BULK_MIN_TEXTS) == ("torch-bf16" if embedding.cpu_has_bf16() else "onnx")
    settings.EMBEDDING_BACKEND = "onnx"
    assert embedding.backend_for(1000) == "onnx"
