"""One table for every benchmark: figure, value, target, and the baseline from the same run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    figure: str
    value: float
    unit: str
    target: str = ""
    baseline: str = ""
    baseline_value: float | None = None
    ok: bool | None = None

    def as_dict(self) -> dict:
        return {"figure": self.figure, "value": self.value, "unit": self.unit, "target": self.target,
                "baseline": self.baseline, "baseline_value": self.baseline_value, "ok": self.ok}


def _num(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}" if abs(value) < 1 else f"{value:.1f}"


def format_rows(rows: list[Row]) -> str:
    head = ("figure", "value", "target", "baseline (same run)", "")
    body = [(r.figure, f"{_num(r.value)} {r.unit}".strip(), r.target,
             f"{r.baseline}: {_num(r.baseline_value)}" if r.baseline else "",
             "" if r.ok is None else "ok" if r.ok else "MISS") for r in rows]
    widths = [max(len(str(x[i])) for x in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(head, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths).rstrip())
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in body]
    return "\n".join(lines)
