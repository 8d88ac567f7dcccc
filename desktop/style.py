"""The look: the style sheet, colours, the app icon and file-type badges."""

from __future__ import annotations

import os
from functools import lru_cache
from importlib import resources

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QIcon, QPainter, QPainterPath, QPalette, QPixmap
from PySide6.QtWidgets import QApplication

ACCENT = "#2f6fde"
MIN_CONTRAST = 4.5  # WCAG AA for text
ERROR_LIGHT, ERROR_DARK = "#b42318", "#ff8a80"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256)

_BADGE_COLOURS = {
    "pdf": "#d1453b", "docx": "#2b6cb0", "odt": "#2b6cb0", "pptx": "#d9822b", "odp": "#d9822b",
    "xlsx": "#2f855a", "ods": "#2f855a", "csv": "#2f855a", "text": "#6b7785", "markdown": "#4a5568",
    "code": "#7c5cc4", "json": "#6b46c1", "xml": "#6b46c1", "yaml": "#6b46c1", "html": "#c05621",
    "epub": "#a86b12", "mobi": "#a86b12", "fb2": "#a86b12", "xps": "#a86b12", "cbz": "#a86b12",
    "email": "#0e7c86", "mbox": "#0e7c86", "image": "#2c7a4b",
}

STYLE_SHEET = """
QMainWindow, QDialog { background: palette(window); }
#SearchField {
    font-size: 17px; padding: 9px 14px; border: 1px solid palette(mid); border-radius: 10px;
    background: palette(base); selection-background-color: %(accent)s;
}
#SearchField:focus { border: 2px solid %(accent)s; padding: 8px 13px; }
#FilterBar QComboBox { padding: 4px 10px; min-height: 22px; }
#FilterBar QLabel, #ResultCount { color: palette(placeholder-text); }
QTreeView#Results { border: none; background: palette(base); outline: none; }
QTreeView#Results::item { border: none; }
#SearchPanel, #PreviewPanel { background: palette(base); }
#PageView { border: none; background: palette(alternate-base); }
#PageView QLabel { background: transparent; }
#Sidebar { background: palette(alternate-base); border-right: 1px solid palette(midlight); }
#SidebarTitle { font-weight: 600; font-size: 13px; padding: 2px 0; }
#Sources { border: none; background: transparent; }
#Sources::item:selected { background: %(selected)s; color: palette(text); }
#PreviewHeader { background: palette(base); border-bottom: 1px solid palette(midlight); }
#PreviewTitle { font-size: 15px; font-weight: 600; }
#PreviewMeta, #EmptyBody, #StatusDetail, #SourceMeta { color: palette(placeholder-text); }
#EmptyTitle { font-size: 19px; font-weight: 600; }
#EmptyIcon { padding-bottom: 6px; }
#StatusArea { border-top: 1px solid palette(midlight); background: palette(window); }
#StatusError { color: %(error)s; }
QPushButton#Primary {
    background: %(accent)s; color: white; border: none; border-radius: 6px; padding: 7px 16px;
    font-weight: 600;
}
QPushButton#Primary:hover { background: #275fc0; }
QPushButton#Primary:pressed { background: #1f4e9e; }
QProgressBar { border: none; background: palette(midlight); border-radius: 3px; max-height: 6px; }
QProgressBar::chunk { background: %(accent)s; border-radius: 3px; }
QSplitter::handle { background: palette(midlight); }
QTabWidget::pane { border: none; }
QTextBrowser { border: none; }
"""


def apply_style(app: QApplication) -> None:
    """Fusion (the same everywhere) with the system's colours — secondary text darkened or
    lightened until it reads at WCAG AA on every background it is drawn on — our sheet and a
    readable font."""
    app.setStyle("Fusion")
    font = app.font()
    if font.pointSizeF() < 10:
        font.setPointSizeF(10)
        app.setFont(font)
    palette = app.palette()
    palette.setColor(QPalette.ColorRole.PlaceholderText, muted_colour(palette))
    app.setPalette(palette)
    error = ERROR_DARK if is_dark(palette) else ERROR_LIGHT
    app.setStyleSheet(STYLE_SHEET % {"accent": ACCENT, "error": error, "selected": selected_row(palette).name()})


def luminance(colour: QColor) -> float:
    """WCAG relative luminance."""
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    return (0.2126 * channel(colour.redF()) + 0.7152 * channel(colour.greenF())
            + 0.0722 * channel(colour.blueF()))


def contrast_ratio(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio of two opaque colours (1 to 21)."""
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def blend(top: QColor, bottom: QColor) -> QColor:
    """``top`` (maybe translucent) painted over the opaque ``bottom``."""
    a = top.alphaF()
    return QColor.fromRgbF(top.redF() * a + bottom.redF() * (1 - a), top.greenF() * a + bottom.greenF() * (1 - a),
                           top.blueF() * a + bottom.blueF() * (1 - a))


def selected_row(palette: QPalette) -> QColor:
    """The background of a selected result (the accent tint over the list's base)."""
    tint = QColor(ACCENT)
    tint.setAlpha(46)
    return blend(tint, palette.color(QPalette.ColorRole.Base))


def text_backgrounds(palette: QPalette) -> list[QColor]:
    """Every background secondary text is drawn on: panes, the sidebar, a selected result."""
    roles = (QPalette.ColorRole.Base, QPalette.ColorRole.Window, QPalette.ColorRole.AlternateBase)
    return [palette.color(r) for r in roles] + [selected_row(palette)]


def readable(colour: QColor, backgrounds: list[QColor], minimum: float = MIN_CONTRAST) -> QColor:
    """``colour``, darkened (on light backgrounds) or lightened (on dark ones) just enough to
    reach ``minimum`` contrast with each of ``backgrounds``."""
    dark_text = sum(luminance(b) for b in backgrounds) / len(backgrounds) > 0.18
    result = QColor(colour)
    for _ in range(100):
        if min(contrast_ratio(result, b) for b in backgrounds) >= minimum:
            return result
        result = result.darker(104) if dark_text else result.lighter(104)
        if dark_text and result.value() == 0:
            break
    return result


def is_dark(palette: QPalette | None = None) -> bool:
    palette = palette or QGuiApplication.palette()
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def mark_style() -> str:
    """CSS for highlighted query words in rich text."""
    if is_dark():
        return "background-color:#7a6200; color:#fff6cc; font-weight:600;"
    return "background-color:#ffe58a; color:#1a1a1a; font-weight:600;"


def passage_style() -> str:
    """CSS for the matching passage in the preview."""
    return "background-color:#3a3420;" if is_dark() else "background-color:#fff8dc;"


def muted_colour(palette: QPalette | None = None) -> QColor:
    """Secondary text: the palette's placeholder colour, made readable on its backgrounds."""
    palette = palette or QGuiApplication.palette()
    placeholder = blend(palette.color(QPalette.ColorRole.PlaceholderText), palette.color(QPalette.ColorRole.Base))
    return readable(placeholder, text_backgrounds(palette))


def badge_label(kind: str, path: str = "") -> str:
    ext = os.path.splitext(path)[1].lstrip(".").upper()
    if ext and len(ext) <= 4:
        return ext
    return {"text": "TXT", "markdown": "MD", "code": "CODE", "email": "MAIL", "image": "IMG"}.get(
        kind, (kind or "?")[:4].upper())


@lru_cache(maxsize=256)
def kind_badge(label: str, kind: str, size: int, dpr: float = 1.0) -> QPixmap:
    """A small document glyph with a coloured band holding the file type (e.g. PDF)."""
    pix = QPixmap(int(size * dpr), int(size * 1.25 * dpr))
    pix.setDevicePixelRatio(dpr)
    pix.fill(Qt.GlobalColor.transparent)
    w, h = float(size), size * 1.25
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    fold = w * 0.28
    page = QPainterPath()
    page.moveTo(1, 1)
    page.lineTo(w - fold, 1)
    page.lineTo(w - 1, fold)
    page.lineTo(w - 1, h - 1)
    page.lineTo(1, h - 1)
    page.closeSubpath()
    dark = is_dark()
    p.setPen(QColor("#8a94a3" if not dark else "#5b6472"))
    p.setBrush(QColor("#ffffff" if not dark else "#2b2f36"))
    p.drawPath(page)
    colour = QColor(_BADGE_COLOURS.get(kind, "#6b7785"))
    band = QRectF(0, h * 0.52, w, h * 0.34)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(colour)
    p.drawRoundedRect(band, 2, 2)
    font = QFont()
    font.setBold(True)
    font.setPixelSize(max(6, int(size * (0.3 if len(label) <= 3 else 0.24))))
    p.setFont(font)
    p.setPen(QColor("white"))
    p.drawText(band, Qt.AlignmentFlag.AlignCenter, label)
    p.end()
    return pix


def search_icon(size: int = 18) -> QIcon:
    """A magnifying glass in the muted text colour (for the search field)."""
    icon = QIcon()
    for scale in (1, 2):
        pix = QPixmap(size * scale, size * scale)
        pix.setDevicePixelRatio(scale)
        pix.fill(Qt.GlobalColor.transparent)
        p = QPainter(pix)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = p.pen()
        pen.setColor(muted_colour())
        pen.setWidthF(1.8)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        p.setPen(pen)
        r = size * 0.3
        c = size * 0.42
        p.drawEllipse(QRectF(c - r, c - r, 2 * r, 2 * r))
        p.drawLine(int(c + r * 0.72), int(c + r * 0.72), int(size * 0.84), int(size * 0.84))
        p.end()
        icon.addPixmap(pix)
    return icon


def app_icon() -> QIcon:
    """The Memex icon from the packaged PNGs (every size that is there)."""
    icon = QIcon()
    folder = resources.files("memex.resources") / "icons"
    for size in ICON_SIZES:
        item = folder / f"memex-{size}.png"
        if item.is_file():
            pix = QPixmap()
            if pix.loadFromData(item.read_bytes(), "PNG"):
                icon.addPixmap(pix)
    return icon
