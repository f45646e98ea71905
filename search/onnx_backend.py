"""Embedding with the model's transformer exported once (offline, from the local
safetensors) to an .onnx file, run by ONNX Runtime or OpenVINO with the model's own fast
tokenizer and mean pooling, exactly what the sentence-transformers pipeline does (checked
against it in bench/embed_throughput.py: mean cosine 0.9999+ for both).
"""

import os
import threading
from pathlib import Path

import numpy as np

MAX_TOKENS = 256


def export(model_dir: Path, out: Path) -> Path:
    """Write `out` (fp32) once; needs torch only here."""
    if out.exists():
        return out
    import torch
    from transformers import AutoModel

    out.parent.mkdir(parents=True, exist_ok=True)
    bert = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()

    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    model = Encoder().eval()
    ids = torch.ones((2, 16), dtype=torch.long)
    tmp = out.with_suffix(f".{os.getpid()}.tmp")
    torch.onnx.export(
        model, (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(tmp), dynamo=False,
        input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["last_hidden_state"],
        dynamic_axes={n: {0: "batch", 1: "seq"} for n in ("input_ids", "attention_mask", "token_type_ids", "last_hidden_state")},
        opset_version=17,
    )
    os.replace(tmp, out)
    return out


def quantized(fp32: Path, out: Path) -> Path:
    """Write `out` once: the exported model `fp32` with int8 weights.

    The weight matrices are quantised per output channel, activations per call (dynamic);
    everything else stays fp32. Per channel is what keeps it close: one scale per matrix
    (ONNX Runtime's default) gave mean cosine 0.96 to fp32 on the dev questions, per channel
    0.993 (worst 0.988), at 2.3 ms a query against fp32's 6.5 on one thread here (README,
    Measured figures)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    if not out.exists():
        tmp = out.with_suffix(f".{os.getpid()}.tmp")
        quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"])
        os.replace(tmp, out)
    return out


class ExportedEmbedder:
    """Tokenizing, batching by length and mean pooling around a runtime's forward pass."""

    def __init__(self, tokenizer_path: Path):
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._lock = threading.Lock()  # the tokenizer's padding state is per object

    def hidden_states(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def embed(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # batches of similar length pad less
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            with self._lock:
                encoded = self.tokenizer.encode_batch([texts[i] for i in chunk])
            ids = np.asarray([e.ids for e in encoded], dtype=np.int64)
            mask = np.asarray([e.attention_mask for e in encoded], dtype=np.int64)
            hidden = self.hidden_states(ids, mask)
            summed = (hidden * mask[..., None]).sum(axis=1)
            pooled = summed / np.clip(mask.sum(axis=1, keepdims=True), 1e-9, None)
            out[chunk] = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return out


class OnnxEmbedder(ExportedEmbedder):
    def __init__(self, onnx_path: Path, tokenizer_path: Path, threads: int = 0):
        """`threads`: 0 for ONNX Runtime's default (a spinning pool of every core, best for
        batches); 1 for queries, which run beside the keyword query and other requests."""
        import onnxruntime as ort

        super().__init__(tokenizer_path)
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])

    def hidden_states(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]


class OpenVinoEmbedder(ExportedEmbedder):
    """OpenVINO on the CPU in bfloat16 (where the CPU does it in hardware): ~41 long passages
    a second here, twice ONNX Runtime's rate, as fast as torch bf16 and closer to fp32 (mean
    cosine 0.99998, worst 0.99994; torch bf16's worst 0.9965).
    The LATENCY hint (one stream on every core) suits one batch at a time; the THROUGHPUT
    hint halved the rate."""

    def __init__(self, onnx_path: Path, tokenizer_path: Path, precision: str = "bf16"):
        import openvino

        super().__init__(tokenizer_path)
        core = openvino.Core()
        self.compiled = core.compile_model(
            core.read_model(str(onnx_path)), "CPU", {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY"}
        )
        self._local = threading.local()  # an infer request is not for two threads at once

    def hidden_states(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self.compiled.create_infer_request()
        result = request.infer({"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})
        return np.array(result[self.compiled.outputs[0]])
