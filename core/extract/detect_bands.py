"""Finding text on a page in bands (inside the OCR process): the detection model's working
memory grows with the pixels it is given — about 180 MB for a whole page at ``DETECT_MAX_SIDE``,
about 35 MB for one band of ``DETECT_BAND`` rows."""

from __future__ import annotations

from typing import Any

import numpy as np

DETECT_MAX_SIDE = 1024  # text is found on a copy at most this large; lines are read at full size
DETECT_BAND = 384  # ...one band of that copy's rows at a time
DETECT_OVERLAP = 96  # rows two bands share: a line up to this tall lies whole in one of them

Array = Any  # numpy image: rows x columns x 3 (BGR)


class BandDetector:
    """The engine's text detector run over bands of the page: the page is shrunk to at most
    ``DETECT_MAX_SIDE`` a side (as the engine would), then read ``DETECT_BAND`` rows at a time,
    each band overlapping the next by ``DETECT_OVERLAP`` rows. A box belongs to the band that
    holds its middle away from the shared rows, so each line is found once, whole. The model's
    working memory is that of a band (~30 MB), not of the page (~180 MB)."""

    def __init__(self, detector: Any) -> None:
        self.detector = detector  # the engine's, shrinking nothing larger than DETECT_MAX_SIDE
        self.preprocess_op = getattr(detector, "preprocess_op", None)
        self.postprocess_op = detector.postprocess_op  # the engine sets box_thresh etc. on it

    def __call__(self, img: Array) -> Any:
        import cv2
        from rapidocr.ch_ppocr_det.utils import TextDetOutput

        rows, columns = img.shape[:2]
        scale = min(1.0, DETECT_MAX_SIDE / max(rows, columns, 1))
        # The sizes the engine itself would detect at: multiples of 32.
        small_rows, small_columns = (max(32, round(int(n * scale) / 32) * 32) for n in (rows, columns))
        small = cv2.resize(img, (small_columns, small_rows))
        boxes: list[Array] = []
        scores: list[float] = []
        for top, bottom, own_top, own_bottom in bands(small_rows):
            found = self.detector(small[top:bottom])
            if found.boxes is None:
                continue
            for box, score in zip(found.boxes, found.scores, strict=False):
                middle = top + (float(box[:, 1].min()) + float(box[:, 1].max())) / 2
                if own_top <= middle < own_bottom:
                    placed = np.asarray(box, dtype=np.float32).copy()
                    placed[:, 1] += top
                    boxes.append(placed)
                    scores.append(float(score))
        del small
        if not boxes:
            return TextDetOutput()
        found_boxes = np.stack(boxes)
        found_boxes[:, :, 0] *= columns / small_columns
        found_boxes[:, :, 1] *= rows / small_rows
        found_boxes[:, :, 0] = np.clip(np.round(found_boxes[:, :, 0]), 0, columns - 1)
        found_boxes[:, :, 1] = np.clip(np.round(found_boxes[:, :, 1]), 0, rows - 1)
        return TextDetOutput(img, self.detector.sorted_boxes(found_boxes), scores)


def bands(rows: int) -> list[tuple[int, int, int, int]]:
    """(top, bottom, own_top, own_bottom) of each band over ``rows`` (a multiple of 32): bands
    of at most ``DETECT_BAND`` rows, multiples of 32, overlapping by at least
    ``DETECT_OVERLAP``; a band owns the rows from the middle of one overlap to the next."""
    if rows <= DETECT_BAND:
        return [(0, rows, 0, rows)]
    units, band, overlap = -(-rows // 32), DETECT_BAND // 32, -(-DETECT_OVERLAP // 32)  # in rows of 32
    count = -(-(units - overlap) // (band - overlap))
    height = -(-(units + (count - 1) * overlap) // count)  # at most ``band``; shared rows ≥ ``overlap``
    step = -(-(units - height) // (count - 1))
    tops = [min(i * step, units - height) * 32 for i in range(count)]
    height *= 32
    bands = []
    for index, top in enumerate(tops):
        own_top = 0 if index == 0 else (top + tops[index - 1] + height) // 2
        own_bottom = rows if index == count - 1 else (tops[index + 1] + top + height) // 2
        bands.append((top, top + height, own_top, own_bottom))
    return bands
