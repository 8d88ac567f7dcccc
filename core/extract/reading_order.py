"""The order a person reads the pieces of text OCR found on a page: columns of running text one
after the other (each top to bottom), and the pieces of one row (a table's cells, an item and its
price on a receipt) as one line, left to right.

Recursive cuts along the page's empty gaps ("XY-cut"): a horizontal gap wider than the usual
space between lines splits the page into bands; a vertical gap splits a band into columns when
every side holds lines of running text (a receipt's narrow price column is read with its row
instead).
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import median

Box = tuple[float, float, float, float]  # x0, y0, x1, y1; y grows downwards

_COLUMN_GAP = 1.2  # line heights of empty space between two columns
_BAND_GAP = 0.9  # line heights of empty space between two blocks (more than between lines)
_TEXT_WIDTH = 6.0  # a column of running text: its lines are typically this many heights wide
_SAME_ROW = 0.5  # pieces whose middles are within this many line heights share a row


def reading_order(boxes: Sequence[Box], heights: Sequence[float] | None = None) -> list[list[int]]:
    """The indices of ``boxes`` as lines in reading order, each line's pieces left to right.
    ``heights``: each line's own height when it is tilted (its box is then taller)."""
    if not boxes:
        return []
    height = max(median(heights if heights else [b[3] - b[1] for b in boxes]), 1.0)
    return _order(list(range(len(boxes))), boxes, height)


def _order(group: list[int], boxes: Sequence[Box], height: float) -> list[list[int]]:
    # Bands first: a gap right across the page (under a title, above a footer) is rare inside
    # columns, whose paragraph breaks seldom line up.
    bands = _split(group, boxes, axis=1, min_gap=_BAND_GAP * height)
    if len(bands) > 1:
        return [line for band in bands for line in _order(band, boxes, height)]
    columns = _split(group, boxes, axis=0, min_gap=_COLUMN_GAP * height)
    if len(columns) > 1 and all(_running_text(column, boxes, height) for column in columns):
        return [line for column in columns for line in _order(column, boxes, height)]
    return _rows(group, boxes, height)


def _split(group: list[int], boxes: Sequence[Box], axis: int, min_gap: float) -> list[list[int]]:
    """``group`` cut wherever no box covers a stretch of at least ``min_gap`` along ``axis``
    (0: across, into columns; 1: down, into bands)."""
    ordered = sorted(group, key=lambda i: boxes[i][axis])
    parts: list[list[int]] = [[ordered[0]]]
    reach = boxes[ordered[0]][axis + 2]
    for index in ordered[1:]:
        start, end = boxes[index][axis], boxes[index][axis + 2]
        if start - reach >= min_gap:
            parts.append([])
        parts[-1].append(index)
        reach = max(reach, end)
    return parts


def _running_text(column: list[int], boxes: Sequence[Box], height: float) -> bool:
    return median(boxes[i][2] - boxes[i][0] for i in column) >= _TEXT_WIDTH * height


def _rows(group: list[int], boxes: Sequence[Box], height: float) -> list[list[int]]:
    """Top to bottom; pieces level with each other, side by side, form one row, left to right."""
    rows: list[list[int]] = []
    row_middle = 0.0
    for index in sorted(group, key=lambda i: (boxes[i][1] + boxes[i][3]) / 2):
        middle = (boxes[index][1] + boxes[index][3]) / 2
        beside = rows and all(boxes[index][0] >= boxes[i][2] or boxes[index][2] <= boxes[i][0] for i in rows[-1])
        if beside and abs(middle - row_middle) <= _SAME_ROW * height:
            rows[-1].append(index)
            row_middle = sum((boxes[i][1] + boxes[i][3]) / 2 for i in rows[-1]) / len(rows[-1])
        else:
            rows.append([index])
            row_middle = middle
    return [sorted(row, key=lambda i: boxes[i][0]) for row in rows]
