"""A faster CPU copy of a cross-encoder reranker, built once from its ONNX file and cached.

The recipe, measured on 2 cores with a MiniLM-L6 cross-encoder (see ``memex bench rerank``):
- matrix products in int8 (ONNX Runtime dynamic quantization, one weight scale per output
  channel; activations quantized per batch);
- the classification head (everything after the last LayerNormalization: pooler and
  classifier) and the embedding tables stay fp32: they cost nothing and quantizing the head
  alone moved the scores more than the whole encoder did;
- residual additions before LayerNormalization are written as Sum, which keeps ONNX Runtime
  from fusing them into SkipLayerNormalization (slower on this CPU class).
A source that is itself dynamically quantized (MatMulInteger) is first turned back into fp32
weights, so the recipe starts from the same place whatever the download was.

Fusing the graph with onnxruntime.transformers (Attention, BiasGelu, EmbedLayerNormalization)
measured no faster than this at the batch sizes the reranker uses, so it is not part of it.
Every build is scored against the source model on built-in pairs and refused if the rankings
drift; any failure leaves the source model in use.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import derived as derived_models
from .checksums import sha256_file
from .embedding import BatchFeeder, load_tokenizer, pad_token_id
from .onnx_session import default_threads, onnxruntime_module, ort

log = logging.getLogger(__name__)

RECIPE_VERSION = 1
DISABLE_ENV = "MEMEX_RERANK_OPTIMIZE"  # "0" keeps the source model
MODEL_FILE, META_FILE = derived_models.MODEL_FILE, derived_models.META_FILE
WHAT = "reranker"
MIN_SPEARMAN = 0.8  # mean rank correlation with the source on the built-in pairs, or the build is refused
CHECK_TOKENS = 256

# Built-in pairs for the check: each query with passages of mixed relevance and length.
_CHECK: list[tuple[str, list[str]]] = [
    ("when is the invoice due", [
        "Invoice #4471 is due on 3 March 2024; please pay by bank transfer to account 00-12-34.",
        "Payment terms: thirty days from the invoice date. Late payments carry a 2% monthly fee.",
        "The quarterly report shows revenue grew by twelve percent while costs stayed flat.",
        "Minutes of the meeting: budget approved, hiring paused, next review in June.",
        "Your order has shipped and should arrive within five working days.",
        "Reminder: the second instalment of the invoice falls due at the end of the month.",
        "Photosynthesis converts light energy into chemical energy stored in glucose.",
        "Refunds are issued to the original payment method within ten days of the return.",
    ]),
    ("boundary layer transition on a flat plate at supersonic speed", [
        "Boundary-layer flow over a flat plate at Mach 2.5 was measured with pitot probes and hot wires; "
        "transition Reynolds numbers are compared with laminar and turbulent theory.",
        "Heat transfer to a cooled wall in hypersonic flow depends strongly on the wall temperature ratio.",
        "The storm broke at dawn. Rain hammered the roof of the old farmhouse.",
        "Skin friction in the turbulent boundary layer was found to fall with increasing Mach number.",
        "A simple method is given for the pressure distribution on slender cones at incidence.",
        "Transition was delayed by suction through a porous plate in the supersonic wind tunnel.",
        "def parse(path): return json.loads(open(path).read())",
        "Buckling of thin cylindrical shells under axial compression and internal pressure.",
    ]),
    ("how do I reset my router password", [
        "To reset the router, hold the button on the back for ten seconds until the lights flash.",
        "Open the admin page at 192.168.1.1 and choose Change password under Security.",
        "The patient presented with a mild fever, a dry cough and fatigue lasting three days.",
        "Wi-Fi drops every evening; the firmware update fixed it for most users.",
        "Der Zug nach Berlin fährt um acht Uhr ab.",
        "Forgotten passwords for the mail account can be recovered from the settings page.",
        "Factory defaults restore the original network name and the password printed on the label.",
        "Chapter 3. The river, swollen by a week of downpours, crept over the lower fields.",
    ]),
    ("symptoms of dehydration in children", [
        "Signs of dehydration in young children include a dry mouth, no tears and fewer wet nappies.",
        "Give small sips of oral rehydration solution often; see a doctor if vomiting continues.",
        "The recipe calls for two cups of flour, one egg and a pinch of salt.",
        "Heat stroke is a medical emergency: the body can no longer control its temperature.",
        "Children need more water in hot weather and during sport.",
        "Quarterly revenue grew by twelve percent.",
        "A sunken soft spot on a baby's head can be a sign of severe fluid loss.",
        "The library opens at nine on weekdays and at ten on Saturdays.",
    ]),
]


def enabled() -> bool:
    """Whether the optimised copy is wanted (``MEMEX_RERANK_OPTIMIZE=0`` turns it off)."""
    return os.environ.get(DISABLE_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def optimized_reranker_model(source: Path, tokenizer: Path, cache: Path, *, source_sha256: str | None = None,
                             min_spearman: float = MIN_SPEARMAN) -> Path:
    """The optimised copy of ``source`` under ``cache``, built on first use; ``source`` if that fails.

    Never raises: a failure is logged (and remembered, so the same source is not rebuilt on
    every load) and the original file is returned.
    """
    try:
        return _optimized(Path(source), Path(tokenizer), Path(cache), source_sha256, min_spearman)
    except Exception as exc:
        log.warning("Using the original reranker model; the optimised copy is unavailable (%s: %s)",
                    type(exc).__name__, exc)
        return Path(source)


def _optimized(source: Path, tokenizer: Path, cache: Path, sha: str | None, min_spearman: float) -> Path:
    inputs = {"source_sha256": sha or sha256_file(source), "onnxruntime": ort.__version__,
              "recipe": RECIPE_VERSION, "min_spearman": min_spearman}
    folder = derived_models.folder_for(cache, source.parent.name, inputs)
    if (found := derived_models.cached(folder, inputs, WHAT)) is not None:
        return found

    def build() -> derived_models.Built:
        data, spearman, overlap = _build(source, tokenizer, min_spearman)
        return data, {"spearman_to_source": round(spearman, 4), "top3_overlap_to_source": round(overlap, 4)}

    return derived_models.build_into(folder, inputs, build, WHAT)


# --- the recipe ----------------------------------------------------------------------------


def float_weights(model: Any) -> Any:
    """``model`` (an onnx ModelProto, changed in place) with the int8 weights that ONNX Runtime's
    dynamic quantization leaves (MatMulInteger, Gather + DequantizeLinear) turned back into fp32
    MatMul and Gather. A graph without them is returned as it was."""
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    added: dict[str, Any] = {}
    replaced: dict[int, Any] = {}  # id(node the new one stands in for) -> new node
    for node in graph.node:
        if node.op_type == "MatMulInteger" and node.input[1] in inits:
            found = _float_matmul(node, inits, producer, consumers)
        elif node.op_type == "DequantizeLinear" and (gather := producer.get(node.input[0])) is not None:
            found = _float_gather(node, gather, inits)
        else:
            continue
        if found is not None:
            stands_for, weight, new_node = found
            added[weight.name] = weight
            replaced[id(stands_for)] = new_node
    if not replaced:
        return model
    _keep_what_feeds_outputs(graph, replaced, added)
    return model


# (the node a new one stands in for, the fp32 initializer it reads, the new node)
_Replacement = tuple[Any, Any, Any]


def _initializer(inits: dict[str, Any], name: str) -> np.ndarray:
    from onnx import numpy_helper

    return numpy_helper.to_array(inits[name])


def _fp32_initializer(name: str, value: np.ndarray) -> Any:
    from onnx import numpy_helper

    return numpy_helper.from_array(value.astype(np.float32), name)


def _float_matmul(node: Any, inits: dict[str, Any], producer: dict[str, Any],
                  consumers: dict[str, list[Any]]) -> _Replacement | None:
    """DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul(scales) as one fp32 MatMul, or None
    where the pattern is not that."""
    from onnx import helper

    quant = producer.get(node.input[0])
    users = consumers.get(node.output[0], [])
    cast = users[0] if len(users) == 1 and users[0].op_type == "Cast" else None
    mul = consumers.get(cast.output[0], [None])[0] if cast is not None else None
    if (quant is None or quant.op_type != "DynamicQuantizeLinear" or cast is None or mul is None
            or mul.op_type != "Mul"):
        return None
    scales = producer.get(mul.input[1] if mul.input[0] == cast.output[0] else mul.input[0])
    w_scale = [i for i in scales.input if i in inits] if scales is not None else []
    if scales is None or scales.op_type != "Mul" or len(w_scale) != 1:
        return None
    zero = _initializer(inits, node.input[3]).astype(np.float32) if len(node.input) > 3 and node.input[3] else 0.0
    weight = (_initializer(inits, node.input[1]).astype(np.float32) - zero) * _initializer(inits, w_scale[0])
    name = f"{node.input[1]}_fp32"
    matmul = helper.make_node("MatMul", [quant.input[0], name], [mul.output[0]], name=node.name)
    return mul, _fp32_initializer(name, weight), matmul


def _float_gather(node: Any, gather: Any, inits: dict[str, Any]) -> _Replacement | None:
    """Gather(int8 table) -> DequantizeLinear as one Gather from an fp32 table, or None."""
    from onnx import helper

    if gather.op_type != "Gather" or gather.input[0] not in inits or node.input[1] not in inits:
        return None
    scale = _initializer(inits, node.input[1])
    if scale.size != 1:
        return None
    zero = _initializer(inits, node.input[2]).astype(np.float32) if len(node.input) > 2 and node.input[2] else 0.0
    table = (_initializer(inits, gather.input[0]).astype(np.float32) - zero) * scale
    name = f"{gather.input[0]}_fp32"
    return node, _fp32_initializer(name, table), helper.make_node("Gather", [name, gather.input[1]],
                                                                  [node.output[0]], name=gather.name)


def _keep_what_feeds_outputs(graph: Any, replaced: dict[int, Any], added: dict[str, Any]) -> None:
    """Put the new nodes in place of the ones they stand for, then drop every node and
    initializer that no longer feeds an output."""
    nodes = [replaced.get(id(n), n) for n in graph.node]
    wanted = {o.name for o in graph.output}
    while True:  # drop what no longer feeds an output
        used = {i for n in nodes for i in n.input} | wanted
        kept = [n for n in nodes if any(o in used for o in n.output)]
        if len(kept) == len(nodes):
            break
        nodes = kept
    used = {i for n in nodes for i in n.input}
    weights = [t for t in graph.initializer if t.name in used] + [t for n, t in added.items() if n in used]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(weights)


def head_nodes(model: Any) -> list[str]:
    """Names of the matrix products after the last LayerNormalization: the classification head."""
    nodes = list(model.graph.node)
    last = max((i for i, n in enumerate(nodes) if n.op_type == "LayerNormalization"), default=None)
    if last is None:
        raise ValueError("no LayerNormalization: this does not look like a BERT-style encoder")
    return [n.name for n in nodes[last + 1:] if n.op_type in ("MatMul", "Gemm")]


def sum_residuals(model: Any) -> int:
    """Write each two-input Add that feeds a LayerNormalization as Sum (see the module docstring)."""
    producer = {out: node for node in model.graph.node for out in node.output}
    changed = 0
    for node in model.graph.node:
        add = producer.get(node.input[0]) if node.op_type == "LayerNormalization" else None
        if add is not None and add.op_type == "Add" and len(add.input) == 2 and not add.domain:
            add.op_type = "Sum"
            changed += 1
    return changed


def quantize(model: Any, out: Path, *, per_channel: bool, keep_fp32: Sequence[str] = (),
             op_types: Sequence[str] | None = None) -> None:
    """ONNX Runtime dynamic int8 quantization of ``model`` (a ModelProto) into ``out``."""
    quantization = onnxruntime_module("quantization")

    root = logging.getLogger()
    quiet = _Quiet()
    root.addFilter(quiet)  # quantize_dynamic logs advice on the root logger
    try:
        quantization.quantize_dynamic(
            model, out, weight_type=quantization.QuantType.QInt8, per_channel=per_channel,
            nodes_to_exclude=list(keep_fp32), op_types_to_quantize=list(op_types) if op_types else None)
    finally:
        root.removeFilter(quiet)


class _Quiet(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR


def build_model(source: Path) -> bytes:
    """The optimised model's bytes (unchecked)."""
    import onnx

    model = float_weights(onnx.load(str(source)))
    keep = head_nodes(model)
    if not any(n.op_type == "MatMul" for n in model.graph.node):
        raise ValueError("the model has no matrix products to quantize")
    with tempfile.TemporaryDirectory(prefix="memex-rerank-") as tmp:
        path = Path(tmp) / "int8.onnx"
        quantize(model, path, per_channel=True, keep_fp32=keep, op_types=["MatMul"])
        quantized = onnx.load(str(path))
    sum_residuals(quantized)
    return quantized.SerializeToString()


# --- the check -----------------------------------------------------------------------------


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Rank correlation of two score vectors (1.0 for identical orders)."""
    if len(a) < 2:
        return 1.0
    ra, rb = np.argsort(np.argsort(a)).astype(float), np.argsort(np.argsort(b)).astype(float)
    if ra.std() == 0 or rb.std() == 0:
        return 1.0 if ra.std() == rb.std() else 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


def top_overlap(a: np.ndarray, b: np.ndarray, k: int) -> float:
    """Share of the top ``k`` of ``a`` that is also in the top ``k`` of ``b``."""
    k = min(k, len(a))
    return len(set(np.argsort(-a)[:k].tolist()) & set(np.argsort(-b)[:k].tolist())) / k if k else 1.0


def agreement(reference: Sequence[np.ndarray], candidate: Sequence[np.ndarray], k: int) -> tuple[float, float]:
    """Mean Spearman and mean top-``k`` overlap over queries (one score vector per query)."""
    pairs = list(zip(reference, candidate, strict=True))
    return (float(np.mean([spearman(r, c) for r, c in pairs])),
            float(np.mean([top_overlap(r, c, k) for r, c in pairs])))


def score_pairs(session: ort.InferenceSession, tokenizer: Path, groups: Sequence[tuple[str, Sequence[str]]],
                max_tokens: int = CHECK_TOKENS) -> list[np.ndarray]:
    """Relevance logits per group of (query, passages), the way the reranker computes them."""
    tok = load_tokenizer(tokenizer)
    feeder = BatchFeeder(session, pad_token_id(tok))
    tok.enable_truncation(max_length=max_tokens, strategy="only_second")
    names = [o.name for o in session.get_outputs()]
    output = "logits" if "logits" in names else names[0]
    scores = []
    for query, passages in groups:
        encodings = tok.encode_batch([(query, p) for p in passages])
        logits = np.asarray(session.run([output], feeder.feed(encodings))[0], dtype=np.float32)
        scores.append(logits.reshape(len(passages), -1)[:, -1])
    return scores


def _session(model: bytes | str) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = default_threads()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return ort.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])


def _build(source: Path, tokenizer: Path, min_spearman: float) -> tuple[bytes, float, float]:
    """The optimised model's bytes and its agreement with ``source`` on the built-in pairs."""
    data = build_model(source)
    reference = score_pairs(_session(str(source)), tokenizer, _CHECK)
    candidate = score_pairs(_session(data), tokenizer, _CHECK)
    rho, overlap = agreement(reference, candidate, 3)
    if not rho >= min_spearman:
        raise ValueError(f"the optimised model ranks differently from the original (Spearman {rho:.3f} "
                         f"< {min_spearman})")
    return data, rho, overlap
