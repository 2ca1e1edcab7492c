"""The embedding model with int8 activations as well as int8 weights, built once from the installed model.

The shipped `model.onnx` stores int8 weights behind DequantizeLinear nodes; onnxruntime folds those into
fp32 constants when it loads the model, so every MatMul ran in fp32: ~9.5 ms of CPU for a 33-token
question on the 2-core Xeon here, most of a cache miss's CPU. Dynamic quantisation (onnxruntime's
`quantize_dynamic`, per-channel int8 weights, activations quantised per call) runs the same
projections as MatMulInteger (VNNI): ~3.2 ms, with vectors that agree with the fp32 ones at cosine
~0.99 and cache figures within one pair per set (docs/performance.md). Built with the `onnx` package
in ~3 s the first time any process on the machine loads the embedder, then read from
`$CATO_EMBEDDER_CACHE` (default `~/.cache/cato-embedder`); written to a temporary name and renamed,
so processes that build it at once never read half a file. Without `onnx`, or if the build fails,
the embedder uses the shipped model and says so (`Embedder.model_kind`).
"""
from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

RECIPE = "dynq8-perchannel-reducerange-v1"   # part of the file name: a new recipe builds a new file


def cache_dir() -> Path:
    return Path(os.environ.get("CATO_EMBEDDER_CACHE") or Path.home() / ".cache" / "cato-embedder")


def quantized_model(source: Path, directory: Path | None = None) -> Path | None:
    """The dynamically quantised copy of `source` (built if missing), or None when it cannot be built."""
    directory = directory or cache_dir()
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    target = directory / f"{source.stem}-{RECIPE}-{digest}.onnx"
    if target.is_file():
        return target
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
        import onnxruntime as ort
    except ImportError as exc:
        logging.getLogger("orchestrator").warning("embedder: %s; using the shipped model (fp32 MatMuls)", exc)
        return None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=directory) as work:
            folded = Path(work) / "folded.onnx"
            options = ort.SessionOptions()
            # basic optimisations only: the weights' DequantizeLinear folded into fp32 constants, no fused
            # operators that quantize_dynamic would not recognise
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
            options.optimized_model_filepath = str(folded)
            ort.InferenceSession(str(source), sess_options=options, providers=["CPUExecutionProvider"])
            built = Path(work) / "quantized.onnx"
            quantize_dynamic(str(folded), str(built), weight_type=QuantType.QInt8, per_channel=True,
                             reduce_range=True)
            os.replace(built, target)
        return target
    except Exception as exc:  # noqa: BLE001 - a cache miss must not take the embedder down
        logging.getLogger("orchestrator").warning("embedder: building the int8 model failed (%s: %s); using "
                                                  "the shipped model", type(exc).__name__, exc)
        return None
