"""Reading the text of scanned pages and pictures (OCR), with RapidOCR's PP-OCRv6 models on
onnxruntime; the models ship inside the ``rapidocr`` wheel and nothing is ever downloaded.

Runs in a child process only (the OCR worker): the engine is loaded once per process, on first
use. Every page is bounded: a picture larger than ``MAX_IMAGE_PIXELS`` is refused from its
header before it is decoded, the engine never sees more than ``ENGINE_MAX_SIDE`` pixels a side,
and each page has a deadline. A page turned on its side or upside down is turned upright first
(the engine's direction classifier, voting over the page's longest lines).

Memory: the OCR process runs beside the indexing, and all of Memex must fit in 500 MB. Text is
found on a shrunken copy of the page one band at a time, the models run on one thread without
memory arenas, large blocks go straight back to the system, and the heap is trimmed after each
page (a dense 300 dpi page: 313 MB at the peak, about 225 MB between pages).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from memex.core.errors import CorruptFile, ExtractionError, ExtractionTimeout
from memex.core.types import OcrPage, OcrWord

from ..memory import c_library, release_free_heap
from .detect_bands import DETECT_MAX_SIDE, BandDetector
from .reading_order import reading_order
from .scans import ENGINE_MAX_SIDE, MAX_IMAGE_PIXELS, MAX_OCR_PAGES, RENDER_DPI, Array, Picture, load_page

OCR_ENGINE = "RapidOCR PP-OCRv6 small"
ENGINE_THREADS = 1  # one core: as many pages a CPU second as two threads and more, beside the indexing
_HEAP_MMAP_BYTES = 1 << 20  # blocks this large are mapped and unmapped, not kept in the heap
MIN_LINE_SCORE = 0.5  # lines read with less confidence are dropped (noise, picture texture)
_VOTE_LINES = 8  # the longest lines decide which way up the page is
_SURE = 0.85  # a reading this confident (weighted by line length) is taken as upright
_MODEL_FILES = ("PP-OCRv6_det_small.onnx", "ch_ppocr_mobile_v2.0_cls_mobile.onnx", "PP-OCRv6_rec_small.onnx")

def read_scanned_page(path: Path, kind: str, page: int, timeout_s: float) -> OcrPage:
    """The text of page ``page`` (1-based) of ``path`` — a PDF or other paged document
    (``kind`` "pdf", "xps", "cbz", ...) drawn at ``RENDER_DPI``, or a picture (``kind``
    "image"; a TIFF's frames are its pages) — with its words' boxes in the page's units.

    Raises ``ExtractionError``: reason "too-large" for a picture over ``MAX_IMAGE_PIXELS``,
    "timeout" past ``timeout_s``, "ocr-unavailable" when the engine cannot load."""
    if timeout_s <= 0:
        raise ValueError("timeout_s must be positive")
    if page < 1:
        raise ValueError("page numbers start at 1")
    path = Path(path)
    started = time.monotonic()
    try:
        with warnings.catch_warnings():  # libraries' notes on damaged files never reach a terminal
            warnings.simplefilter("ignore")
            with _deadline(timeout_s):
                picture = _decoded(path, kind, page)  # a picture too large is refused before the engine loads
            loading = time.monotonic()
            engine = _engine()  # loaded once per process: not the page's time
            started += time.monotonic() - loading
            with _deadline(timeout_s - (time.monotonic() - started)):
                lines, words = _read_page(engine, picture.pixels, started, timeout_s, page)
    except _PastDeadline:
        raise ExtractionTimeout(f"reading page {page} took longer than {timeout_s:g} s and was stopped") from None
    except MemoryError:
        raise ExtractionError(f"page {page} needs too much memory to read", "too-large") from None
    finally:
        release_free_heap()  # the page's pictures and the models' working memory go back between pages
    rows, columns = picture.pixels.shape[:2]
    sx, sy = picture.width / columns, picture.height / rows
    boxes = tuple(OcrWord(text, x0 * sx, y0 * sy, x1 * sx, y1 * sy) for text, (x0, y0, x1, y1) in words)
    return OcrPage(page, "\n".join(lines), boxes, picture.width, picture.height, OCR_ENGINE)


def _decoded(path: Path, kind: str, page: int) -> Picture:
    try:
        return load_page(path, kind, page)
    except (ExtractionError, MemoryError):
        raise
    except FileNotFoundError:
        raise ExtractionError(f"{path.name} is not there any more", "missing") from None
    except Exception as exc:  # Pillow and MuPDF on a damaged file: OSError, ValueError, SyntaxError...
        raise CorruptFile(f"{path.name} could not be decoded: {_one_line(exc)}") from None


def _read_page(engine: Any, pixels: Array, started: float, timeout_s: float,
               page: int) -> tuple[list[str], list[tuple[str, Box]]]:
    try:
        return _read(engine, pixels, started, timeout_s)
    except (ExtractionError, MemoryError):
        raise
    except Exception as exc:  # the engine's own errors carry a whole traceback: its last line says it
        raise ExtractionError(f"the OCR engine failed on page {page}: {_one_line(exc)}", "failed") from None


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:300]


# --- the engine ------------------------------------------------------------------------------

_engine_instance: Any = None
_engine_lock = threading.Lock()


def _engine() -> Any:
    """The engine, loaded on first use (once per process)."""
    global _engine_instance
    with _engine_lock:
        if _engine_instance is None:
            _engine_instance = _load_engine()
        return _engine_instance


def _unavailable(detail: str) -> ExtractionError:
    return ExtractionError(f"the OCR engine cannot start: {detail}", "ocr-unavailable")


def _load_engine() -> Any:
    _silence_engine_log()
    _tune_heap()
    try:
        import rapidocr
        from rapidocr.inference_engine.onnxruntime.main import OrtInferSession
        from rapidocr.utils.download_file import DownloadFile
    except ImportError as exc:
        raise _unavailable(f"{exc.name or 'a library'} is not installed") from None
    downloader: Any = DownloadFile  # the models must come with the wheel: never fetch one
    downloader.run = classmethod(_refuse_download)
    sessions: Any = OrtInferSession  # Memex's session options for every model the engine loads
    sessions._init_sess_opts = staticmethod(_session_options)
    from memex.core.models.onnx_session import ort  # Memex's one import of ONNX Runtime, telemetry off

    ort.set_default_logger_severity(4)
    models = Path(rapidocr.__file__).parent / "models"
    missing = [name for name in _MODEL_FILES if not (models / name).is_file()]
    if missing:
        raise _unavailable(f"its model file {missing[0]} is missing (reinstall rapidocr)")
    det, cls, rec = (str(models / name) for name in _MODEL_FILES)
    params = {
        "Global.log_level": "critical", "Global.max_side_len": ENGINE_MAX_SIDE,
        "Global.text_score": 0.0,
        "EngineConfig.onnxruntime.intra_op_num_threads": ENGINE_THREADS,
        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        "EngineConfig.onnxruntime.enable_cpu_mem_arena": False,
        "Det.model_path": det, "Det.limit_type": "max", "Det.limit_side_len": DETECT_MAX_SIDE,
        "Cls.model_path": cls, "Rec.model_path": rec,
        "Rec.rec_batch_num": 1,  # a line at a time: as fast here, and a third of the peak memory
    }
    try:
        from rapidocr import RapidOCR

        engine: Any = RapidOCR(params=params)
        # Load the three models now, so a broken install fails here and not halfway through a page.
        engine.text_det = BandDetector(engine._load_det_model())
        engine._load_cls_model()
        engine._load_rec_model()
    except Exception as exc:
        raise _unavailable(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__) from None
    _silence_engine_log()
    return engine


def _session_options(config: object) -> Any:
    """One model's ONNX Runtime options: ``ENGINE_THREADS`` threads that sleep when idle
    (spinning burns a core the indexing needs), operators one after the other, and working
    memory taken from and given back to the heap on every run: no arena and no per-shape
    memory plan, which keep the most any line ever needed (a page's lines all differ in width;
    measured: an arena for the recogniser keeps 64 MB more after three pages)."""
    from memex.core.models.onnx_session import ort

    options = ort.SessionOptions()
    options.log_severity_level = 4
    options.enable_cpu_mem_arena = False
    options.enable_mem_pattern = False
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = ENGINE_THREADS
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def _tune_heap() -> None:
    """(The OCR process only.) glibc raises its mapping threshold each time a large block is
    freed, after which the models' working memory — blocks of a few MB, a different size for
    every line — piles up in the heap and stays: measured 130 MB kept after one dense page.
    A fixed threshold maps such blocks and unmaps them when freed; two heap arenas instead of
    one per thread keep the engine's threads from each holding their own."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = c_library()
        libc.mallopt(-3, _HEAP_MMAP_BYTES)  # M_MMAP_THRESHOLD (fixed: no more raising)
        libc.mallopt(-8, 2)  # M_ARENA_MAX


def _refuse_download(cls: object, *args: object, **kwargs: object) -> None:
    raise _unavailable("a model file is missing and Memex never downloads one")


def _silence_engine_log() -> None:
    """RapidOCR logs in colour to stderr: not one line of it reaches a terminal."""
    log = logging.getLogger("RapidOCR")
    for handler in list(log.handlers):
        if not isinstance(handler, logging.NullHandler):
            log.removeHandler(handler)
    if not log.handlers:
        log.addHandler(logging.NullHandler())  # also stops RapidOCR adding its own handler
    log.propagate = False
    log.disabled = True


# --- reading ---------------------------------------------------------------------------------

Box = tuple[float, float, float, float]


def _read(engine: Any, pixels: Array, started: float, timeout_s: float) -> tuple[list[str], list[tuple[str, Box]]]:
    """The page's lines (in reading order) and words with boxes in ``pixels``' frame.

    A page whose lines stand mostly upright, or whose lines read with little confidence, may
    be turned: the direction classifier votes on pieces of its longest lines, the page is read
    again turned that way, and the reading with the higher confidence is kept."""
    import cv2

    height, width = pixels.shape[:2]
    best, best_turn = _run(engine, pixels), None
    if not best.txts:
        return [], []
    on_side = _on_side(best.boxes)
    if on_side or _confidence(best) < _SURE:
        upside_down = _upside_down(engine, pixels, best.boxes)
        if on_side:
            # The engine crops a standing line turned a quarter left: upright there means the
            # page wants a quarter turn left; the other way is tried when that reads worse.
            left, right = cv2.ROTATE_90_COUNTERCLOCKWISE, cv2.ROTATE_90_CLOCKWISE
            turns = [right, left] if upside_down else [left, right]
        else:
            turns = [cv2.ROTATE_180] if upside_down else []
        for turn in turns:
            _check_time(started, timeout_s)
            result = _run(engine, cv2.rotate(pixels, turn))
            if _confidence(result) > _confidence(best):
                best, best_turn = result, turn
            if _confidence(best) >= _SURE:
                break
    return _lines_and_words(best, width, height, best_turn)


def _run(engine: Any, pixels: Array) -> Any:
    # Every flag is passed each time: the engine keeps the last call's flags.
    return engine(pixels, use_det=True, use_cls=False, use_rec=True, return_word_box=True,
                  return_single_char_box=False, text_score=0.0)


def _confidence(result: Any) -> float:
    """The recogniser's confidence over a reading, weighted by line length (0 when empty)."""
    if not result.txts:
        return 0.0
    sizes = [len(text.strip()) for text in result.txts]
    total = sum(sizes)
    return sum(size * float(score) for size, score in zip(sizes, result.scores, strict=False)) / total if total else 0.0


def _on_side(boxes: Any) -> bool:
    """Most of the text (by length) stands in lines taller than wide: the page lies on its side."""
    quads = np.asarray(boxes, dtype=np.float32)
    across = np.linalg.norm(quads[:, 1] - quads[:, 0], axis=1)
    down = np.linalg.norm(quads[:, 3] - quads[:, 0], axis=1)
    longest = np.maximum(across, down)
    return float(longest[down > across * 1.5].sum()) > float(longest.sum()) / 2


def _upside_down(engine: Any, pixels: Array, boxes: Any) -> bool:
    """The direction classifier's vote over pieces of the longest lines, as the engine crops
    them (a line taller than wide comes turned a quarter left): is that text upside down?
    Pieces about four line-heights long, the shape the classifier reads without squeezing."""
    from rapidocr.utils.process_img import get_rotate_crop_image

    quads = np.asarray(boxes, dtype=np.float32)
    longest = np.maximum(np.linalg.norm(quads[:, 1] - quads[:, 0], axis=1),
                         np.linalg.norm(quads[:, 3] - quads[:, 0], axis=1))
    vote = 0.0
    for index in np.argsort(-longest)[:_VOTE_LINES]:
        line = get_rotate_crop_image(pixels, quads[index].copy())
        rows, columns = line.shape[:2]
        if rows == 0 or columns == 0:
            continue
        piece = min(columns, rows * 4)
        for start in sorted({0, (columns - piece) // 2, columns - piece}):
            out = engine(line[:, start:start + piece], use_det=False, use_cls=True, use_rec=False)
            label, score = out.cls_res[0]
            vote += float(score) if label == "180" else -float(score)
    return vote > 0


def _lines_and_words(result: Any, width: int, height: int, turn: int | None) -> tuple[list[str], list[tuple[str, Box]]]:
    """Lines read with enough confidence, in reading order (columns one after the other; the
    pieces of one row joined), and their words, boxes turned back to the frame of the page
    before ``turn`` (a ``width`` × ``height`` picture)."""
    if not result.txts:
        return [], []
    kept = [(text.strip(), _bounds(box), _thickness(box))
            for text, score, box in zip(result.txts, result.scores, result.boxes, strict=False)
            if score >= MIN_LINE_SCORE and text.strip()]
    order = reading_order([box for _, box, _ in kept], [thickness for _, _, thickness in kept])
    lines = [" ".join(kept[i][0] for i in row) for row in order]
    words: list[tuple[str, Box]] = []
    for line in result.word_results or ():
        if not isinstance(line, (list, tuple)):  # word boxes not worked out for this reading
            continue
        for item in line:
            if not isinstance(item, (list, tuple)) or len(item) != 3 or item[2] is None or not str(item[0]).strip():
                continue
            box = _bounds(item[2])
            if any(_inside(box, line_box) for _, line_box, _ in kept):
                words.append((str(item[0]).strip(), _turn_back(box, turn, width, height)))
    return lines, words


def _bounds(quad: Sequence[Sequence[float]] | Any) -> Box:
    points = np.asarray(quad, dtype=np.float64).reshape(-1, 2)
    return (float(points[:, 0].min()), float(points[:, 1].min()), float(points[:, 0].max()), float(points[:, 1].max()))


def _thickness(quad: Sequence[Sequence[float]] | Any) -> float:
    """A line's own height, tilted or not: from its top left corner to its bottom left."""
    points = np.asarray(quad, dtype=np.float64).reshape(-1, 2)
    return float(np.linalg.norm(points[3] - points[0]))


def _inside(word: Box, line: Box, slack: float = 2.0) -> bool:
    cx, cy = (word[0] + word[2]) / 2, (word[1] + word[3]) / 2
    return line[0] - slack <= cx <= line[2] + slack and line[1] - slack <= cy <= line[3] + slack


def _turn_back(box: Box, turn: int | None, width: int, height: int) -> Box:
    """``box`` found on the picture turned by ``turn``, in the unturned ``width`` × ``height``
    picture's frame."""
    import cv2

    x0, y0, x1, y1 = box
    if turn == cv2.ROTATE_90_COUNTERCLOCKWISE:  # (x, y) went to (y, width - x)
        return (width - y1, x0, width - y0, x1)
    if turn == cv2.ROTATE_90_CLOCKWISE:  # (x, y) went to (height - y, x)
        return (y0, height - x1, y1, height - x0)
    if turn == cv2.ROTATE_180:
        return (width - x1, height - y1, width - x0, height - y0)
    return box


# --- the deadline ----------------------------------------------------------------------------


class _PastDeadline(BaseException):
    """Raised into the reading when its time is up (a BaseException, so no library's
    ``except Exception`` swallows it)."""


def _check_time(started: float, timeout_s: float) -> None:
    if time.monotonic() - started > timeout_s:
        raise _PastDeadline


@contextlib.contextmanager
def _deadline(timeout_s: float) -> Iterator[None]:
    """Interrupt the reading after ``timeout_s`` (a timer signal, so only in the main thread;
    elsewhere the checks between steps stand in). The engine's model runs are short native
    calls: the interruption lands at the end of the one running."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def on_alarm(signum: int, frame: object) -> None:
        raise _PastDeadline

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, max(timeout_s, 0.001))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


__all__ = ["ENGINE_MAX_SIDE", "MAX_IMAGE_PIXELS", "MAX_OCR_PAGES", "OCR_ENGINE", "RENDER_DPI", "read_scanned_page"]
