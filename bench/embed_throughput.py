#!/usr/bin/env python
"""Bulk embedding speed on this CPU, per backend, with the accuracy cost of each.

Short passages (a sentence or two) and long ones (~250 word pieces, real corpus passages);
passages per second, one-query latency, mean and worst cosine to the torch fp32 vectors,
and semantic MRR@10 on the question set (note ranked by its best passage, exact search).

    .venv/bin/python bench/embed_throughput.py [--corpus FILE] [--queries FILE] [--n-long 128] [--json]

Backends: torch fp32 at batch 8/32/64 (sentence-transformers sorts by length itself),
torch bf16, ONNX Runtime fp32 and dynamically quantised int8 (exported once under var/),
OpenVINO bf16 (from the same export).
The app (EMBEDDING_BACKEND=auto) embeds queries with ONNX fp32 (lowest latency per query) and
bulk batches with the fastest that keeps cosine >= 0.99 and MRR: OpenVINO bf16 on CPUs with
bf16 instructions, ONNX fp32 elsewhere.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_CORPUS, DEFAULT_QUERIES, ROOT, load_json  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lablog.settings")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def rate(fn, texts, repeat=1):
    fn(texts[:4])  # warm
    started = time.perf_counter()
    for _ in range(repeat):
        fn(texts)
    return repeat * len(texts) / (time.perf_counter() - started)


def query_ms(fn, queries):
    times = []
    for q in queries:
        started = time.perf_counter()
        fn([q])
        times.append((time.perf_counter() - started) * 1000)
    return float(np.median(times))


def mrr10(fn, passages, owners, queries, titles):
    vectors = fn(passages)
    qv = fn([q["q"] for q in queries])
    total = 0.0
    for q, v in zip(queries, qv):
        best: dict[int, float] = {}
        for owner, score in zip(owners, vectors @ v):
            best[owner] = max(best.get(owner, -2.0), float(score))
        ranked = sorted(best, key=lambda o: -best[o])[:10]
        for rank, owner in enumerate(ranked, 1):
            if titles[owner] == q["expected_title"]:
                total += 1 / rank
                break
    return total / len(queries), vectors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--queries", default=str(DEFAULT_QUERIES))
    parser.add_argument("--n-long", type=int, default=128)
    parser.add_argument("--n-short", type=int, default=256)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import django

    django.setup()
    import torch
    from sentence_transformers import SentenceTransformer

    from search.embedding import count_tokens, model_dir
    from search.onnx_backend import OnnxEmbedder, OpenVinoEmbedder, export, quantized
    from search.passages import split

    corpus, queries = load_json(args.corpus), load_json(args.queries)
    titles = [n["title"] for n in corpus]
    passages, owners = [], []
    for i, note in enumerate(corpus):
        for piece in split(note["title"], note["body"]):
            passages.append(piece.embedding_text())
            owners.append(i)
    lengths = count_tokens(passages)
    long = [p for p, n in sorted(zip(passages, lengths), key=lambda x: -x[1])][: args.n_long]
    short = [n["title"] for n in corpus] + [q["q"] for q in queries]
    short = (short * (args.n_short // len(short) + 1))[: args.n_short]
    print(f"{len(long)} long passages (~{int(np.mean(count_tokens(long)))} word pieces), {len(short)} short "
          f"(~{int(np.mean(count_tokens(short)))}); torch threads {torch.get_num_threads()}", file=sys.stderr)

    st = SentenceTransformer(str(model_dir()), device="cpu", local_files_only=True)
    st.max_seq_length = 256

    def torch_fn(batch):
        return lambda texts: st.encode(texts, batch_size=batch, normalize_embeddings=True, show_progress_bar=False)

    onnx_dir = ROOT / "var" / "bench-onnx"
    fp32 = OnnxEmbedder(export(model_dir(), onnx_dir / "minilm.onnx"), model_dir() / "tokenizer.json")
    int8 = OnnxEmbedder(quantized(onnx_dir / "minilm.onnx", onnx_dir / "minilm-int8.onnx"), model_dir() / "tokenizer.json")
    openvino_bf16 = OpenVinoEmbedder(onnx_dir / "minilm.onnx", model_dir() / "tokenizer.json", "bf16")
    st_bf16 = SentenceTransformer(str(model_dir()), device="cpu", local_files_only=True).to(torch.bfloat16)
    st_bf16.max_seq_length = 256

    variants = {
        "torch fp32 b32": torch_fn(32),
        "torch fp32 b8": torch_fn(8),
        "torch fp32 b64": torch_fn(64),
        "torch bf16 b32": lambda t: st_bf16.encode(t, batch_size=32, normalize_embeddings=True, show_progress_bar=False).astype(np.float32),
        "onnx fp32 b32": lambda t: fp32.embed(t, 32),
        "onnx fp32 b8": lambda t: fp32.embed(t, 8),
        "onnx int8 b32": lambda t: int8.embed(t, 32),
        "openvino bf16 b32": lambda t: openvino_bf16.embed(t, 32),
    }
    reference = None
    results = {}
    for name, fn in variants.items():
        mrr, vectors = mrr10(fn, passages, owners, queries, titles)
        if reference is None:
            reference = vectors
        cos = (np.asarray(vectors, dtype=np.float32) * reference).sum(axis=1)
        results[name] = {
            "short_per_s": round(rate(fn, short), 1), "long_per_s": round(rate(fn, long), 1),
            "query_ms": round(query_ms(fn, [q["q"] for q in queries]), 1),
            "cos_mean": round(float(cos.mean()), 5), "cos_min": round(float(cos.min()), 5), "mrr10": round(mrr, 4),
        }
        print(name, results[name], file=sys.stderr)
    base = results["torch fp32 b32"]
    ok = {n: r for n, r in results.items() if r["cos_mean"] >= 0.99 and r["mrr10"] >= base["mrr10"]}
    # The fastest on long passages; within 5% of it (run-to-run noise here), the most faithful.
    fastest = max(r["long_per_s"] for r in ok.values())
    chosen = max((n for n in ok if ok[n]["long_per_s"] >= 0.95 * fastest), key=lambda n: ok[n]["cos_min"])
    print(f"{'backend':<18}{'short/s':>9}{'long/s':>8}{'query ms':>10}{'cos mean':>10}{'cos min':>9}{'MRR@10':>8}")
    for name, r in results.items():
        print(f"{name:<18}{r['short_per_s']:>9}{r['long_per_s']:>8}{r['query_ms']:>10}{r['cos_mean']:>10}{r['cos_min']:>9}{r['mrr10']:>8}")
    print(f"fastest within cosine 0.99 and no MRR drop (within 5%: the closest to fp32): {chosen}")
    if args.json:
        print(json.dumps({"results": results, "chosen": chosen}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
