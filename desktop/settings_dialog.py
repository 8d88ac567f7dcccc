"""The settings dialog: library file, models, CPU/GPU, threads, chunk size, ignore patterns,
reading scanned pages (OCR), start at login and the tray. It edits a copy of the settings; the window saves and applies
the result and says which changes need a restart."""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass

from memex.core.config import Settings, default_library_path
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from . import fmt
from .model_download_dialog import ModelDownloadDialog

DEVICES = (("cpu", "CPU"), ("auto", "Automatic (GPU when available)"), ("cuda", "NVIDIA GPU (CUDA)"),
           ("directml", "GPU via DirectML (Windows)"), ("coreml", "Apple Neural Engine / GPU (Core ML)"))
RESTART_FIELDS = {"library": "library file", "embedder": "embedding model", "reranker": "reranker",
                  "device": "CPU/GPU", "threads": "threads"}
NEXT_SCAN_FIELDS = {"chunk_tokens": "passage size", "ignore": "ignore patterns",
                    "index_hidden": "hidden files"}
_CHOOSE = "\0choose"


@dataclass
class SettingsResult:
    settings: Settings
    start_at_login: bool
    minimise_to_tray: bool
    restart_needed: list[str]
    next_scan: list[str]

    def summary(self) -> str:
        parts = ["Settings saved."]
        if self.restart_needed:
            parts.append(f"Restart Memex to use the new {', '.join(self.restart_needed)}.")
        if self.next_scan:
            parts.append(f"New {', '.join(self.next_scan)} apply to files indexed from now on; "
                         "use “Check for changes now” on a folder to apply them there.")
        return " ".join(parts)


NOT_DOWNLOADED = " (not downloaded)"


@dataclass(frozen=True)
class _Choice:
    name: str
    description: str  # the languages and what the model is good for (the catalogue's words)
    downloadable: bool  # a catalogue model from the Hub
    installed: bool
    size: int | None = None  # bytes to download

    def label(self) -> str:
        """What the picker shows: the name, the size and the languages (the description's start)."""
        bits = [fmt.human_bytes(self.size)] if self.size else []
        if self.description:
            bits.append(self.description.split(";")[0].split(",")[0].rstrip("."))
        return self.name + (f"  ·  {'  ·  '.join(bits)}" if bits else "") + ("" if self.installed else NOT_DOWNLOADED)

    def details(self) -> str:
        """A sentence or two under the picker: what it is good for, its size, whether it is here."""
        size = f" {fmt.human_bytes(self.size)}" if self.size else ""
        where = "Downloaded." if self.installed and self.downloadable else (
            "Imported from a folder." if not self.downloadable else f"Not downloaded yet ({size.strip()} to fetch).")
        return f"{self.description or self.name} {where}".strip()


def _choices(kind: str) -> list[_Choice]:
    """Catalogue models of ``kind`` (the built-in default left out) and imported ones."""
    try:
        from memex.core.api import catalogue, imported_models, is_installed
    except ImportError:
        return []
    try:
        found = [_Choice(s.name, s.description, True, is_installed(s), s.size)
                 for s in catalogue() if s.kind == kind and s.source == "hub"]
        found += [_Choice(s.name, s.description, False, True) for s, _ in imported_models(kind)]
    except Exception:  # a broken catalogue or models folder must not stop the dialog
        return []
    return found


def _builtin_description(kind: str) -> str:
    """The catalogue's words for the built-in model ("English, small and fast; …")."""
    try:
        from memex.core.api import catalogue

        return next((s.description for s in catalogue() if s.kind == kind and s.source == "pypi"), "")
    except Exception:  # a broken catalogue must not stop the dialog
        return ""


class _ModelChoice(QComboBox):
    """"Default"/"None", catalogue models (marked when not downloaded), imported models, a
    folder; "Choose folder…" picks one."""

    def __init__(self, none_label: str, kind: str, current: str | None, none_details: str = "") -> None:
        super().__init__()
        self.kind = kind
        self._downloadable: set[str] = set()
        self._choices: dict[str, _Choice] = {}
        self._none_details = none_details
        self.addItem(none_label, None)
        self.setItemData(0, none_details, Qt.ItemDataRole.ToolTipRole)
        for choice in _choices(kind):
            self._choices[choice.name] = choice
            self.addItem(choice.label(), choice.name)
            self.setItemData(self.count() - 1, choice.details(), Qt.ItemDataRole.ToolTipRole)
            if choice.downloadable and not choice.installed:
                self._downloadable.add(choice.name)
        if current and self.findData(current) < 0:
            self.addItem(current, current)
        self.addItem("Choose a folder…", _CHOOSE)
        self.setCurrentIndex(max(0, self.findData(current)) if current else 0)
        self._previous = self.currentIndex()
        self.activated.connect(self._on_activated)

    def value(self) -> str | None:
        data = self.currentData()
        return None if data in (None, _CHOOSE) else data

    def needs_download(self) -> str | None:
        """The chosen model's name when it is a catalogue model not downloaded yet."""
        value = self.value()
        return value if value in self._downloadable else None

    def details(self) -> str:
        """What the chosen model is: its languages, what it is good for, its size."""
        value = self.value()
        if value is None:
            return self._none_details
        choice = self._choices.get(value)
        return choice.details() if choice else f"A model from the folder {value}."

    def mark_downloaded(self, name: str) -> None:
        self._downloadable.discard(name)
        choice = self._choices.get(name)
        if choice is not None:
            self._choices[name] = dataclasses.replace(choice, installed=True)
        index = self.findData(name)
        if index >= 0:
            self.setItemText(index, self._choices[name].label() if name in self._choices else name)

    def _on_activated(self, index: int) -> None:
        if self.itemData(index) != _CHOOSE:
            self._previous = index
            return
        folder = QFileDialog.getExistingDirectory(self, "Folder with model.onnx and tokenizer.json")
        if not folder:
            self.setCurrentIndex(self._previous)
            return
        found = self.findData(folder)
        if found < 0:
            self.insertItem(self.count() - 1, folder, folder)
            found = self.findData(folder)
        self.setCurrentIndex(found)
        self._previous = found


class SettingsDialog(QDialog):
    def __init__(self, settings: Settings, *, start_at_login: bool, minimise_to_tray: bool,
                 tray_available: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Memex Settings")
        self.setMinimumWidth(600)
        self._original = settings
        self._login0, self._tray0 = start_at_login, minimise_to_tray

        library_row = self._build_library_row(settings)
        self._build_model_fields(settings)
        self._build_indexing_fields(settings)
        self._build_desktop_fields(start_at_login, minimise_to_tray, tray_available)
        form = self._build_form(library_row)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 14)
        layout.setSpacing(12)
        layout.addLayout(form)
        layout.addWidget(_note("↻ Memex opens the library again to use it, as soon as you save (or when the "
                               "indexing under way ends). A new embedding model is switched to in the background "
                               "once you confirm. Indexing settings apply to files indexed from now on."))
        layout.addWidget(buttons)
        self.resize(max(600, self.sizeHint().width()), self.sizeHint().height())

    # -- building -------------------------------------------------------------------------
    def _build_library_row(self, settings: Settings) -> QHBoxLayout:
        self.library = QLineEdit(settings.library or "")
        self.library.setPlaceholderText(str(default_library_path()))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_library)
        library_row = QHBoxLayout()
        library_row.addWidget(self.library, 1)
        library_row.addWidget(browse)
        return library_row

    def _build_model_fields(self, settings: Settings) -> None:
        self.embedder = _ModelChoice("Default (all-MiniLM-L6-v2, built in)", "embedder", settings.embedder,
                                     _builtin_description("embedder") or "Built in; English, small and fast.")
        self.reranker = _ModelChoice("None (fastest)", "reranker", settings.reranker,
                                     "Results in the order search finds them; no second pass.")
        self.embedder_details = _note(self.embedder.details())
        self.reranker_details = _note(self.reranker.details())
        self.embedder.currentIndexChanged.connect(lambda _i: self.embedder_details.setText(self.embedder.details()))
        self.reranker.currentIndexChanged.connect(lambda _i: self.reranker_details.setText(self.reranker.details()))
        self.download: ModelDownloadDialog | None = None  # the download in progress, if any
        self.embedder_download = self._download_button(self.embedder)
        self.reranker_download = self._download_button(self.reranker)
        self.device = QComboBox()
        for value, label in DEVICES:
            self.device.addItem(label, value)
        self.device.setCurrentIndex(max(0, self.device.findData(settings.device)))
        self.threads = QSpinBox(minimum=0, maximum=64, value=int(settings.threads))
        self.threads.setSpecialValueText("Automatic")

    def _build_indexing_fields(self, settings: Settings) -> None:
        self.chunk = QSpinBox(minimum=64, maximum=1024, singleStep=20, value=int(settings.chunk_tokens))
        self.chunk.setSuffix(" tokens")
        self.ignore = QPlainTextEdit("\n".join(settings.ignore))
        self.ignore.setPlaceholderText("One name or pattern per line, e.g. node_modules or *.tmp")
        self.ignore.setMinimumHeight(120)
        self.hidden = QCheckBox("Index hidden files and folders")
        self.hidden.setChecked(settings.index_hidden)
        self.ocr = QCheckBox("Read scanned pages and pictures (OCR)")
        self.ocr.setChecked(settings.ocr)
        self.ocr.setToolTip("Reads the text of scanned PDF pages and of pictures (PNG, JPEG, TIFF…) on this "
                            "computer, at low priority, after every file's words are searchable.")

    def _build_desktop_fields(self, start_at_login: bool, minimise_to_tray: bool, tray_available: bool) -> None:
        self.login = QCheckBox("Start Memex when I log in")
        self.login.setChecked(start_at_login)
        if not sys.platform.startswith("linux"):
            self.login.setEnabled(False)
            self.login.setToolTip("Memex can start at login on Linux only (it writes an autostart entry)")
        self.tray = QCheckBox("Minimise to the system tray")
        self.tray.setChecked(minimise_to_tray and tray_available)
        if not tray_available:
            self.tray.setEnabled(False)
            self.tray.setToolTip("Not available: this desktop has no system tray to minimise to")

    def _build_form(self, library_row: QHBoxLayout) -> QFormLayout:
        """The fields in sections; ↻ marks those that take effect after a restart."""
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        form.setHorizontalSpacing(14)
        form.setVerticalSpacing(9)
        form.addRow(_section("Library"))
        form.addRow("Library file ↻", library_row)
        form.addRow(_section("Models"))
        form.addRow("Embedding model", _row(self.embedder, self.embedder_download))
        form.addRow("", self.embedder_details)
        self.embedder.setToolTip("Another model re-embeds the library in the background after you confirm; "
                                 "searches keep working meanwhile.")
        form.addRow("Reranker ↻", _row(self.reranker, self.reranker_download))
        form.addRow("", self.reranker_details)
        form.addRow("Run models on ↻", self.device)
        form.addRow("Threads ↻", self.threads)
        form.addRow(_section("Indexing"))
        form.addRow("Passage size", self.chunk)
        form.addRow("Ignore", self.ignore)
        form.addRow("", self.hidden)
        form.addRow("", self.ocr)
        form.addRow(_section("Desktop"))
        form.addRow("", self.login)
        form.addRow("", self.tray)
        return form

    # -- downloads ------------------------------------------------------------------------
    def _download_button(self, choice: _ModelChoice) -> QPushButton:
        button = QPushButton("Download…")
        button.clicked.connect(lambda: self.start_download(choice))

        def update(_index: int = 0) -> None:
            needed = choice.needs_download() is not None
            button.setEnabled(needed)
            button.setToolTip("Download the chosen model from the Hugging Face Hub (verified by sha256)" if needed
                              else "Nothing to download: the chosen model is already on this computer"
                              if choice.value() else "Nothing to download: this choice needs no model")

        choice.currentIndexChanged.connect(update)
        update()
        self._updates = [*getattr(self, "_updates", []), update]
        return button

    def start_download(self, choice: _ModelChoice) -> ModelDownloadDialog | None:
        """Open the download dialog for the model chosen in ``choice`` (without blocking)."""
        name = choice.needs_download()
        if name is None or (self.download is not None and self.download.running):
            return None
        dialog = ModelDownloadDialog(name, self)
        dialog.completed.connect(lambda done: self._downloaded(done))
        self.download = dialog
        dialog.open()
        return dialog

    def _downloaded(self, name: str) -> None:
        for choice in (self.embedder, self.reranker):
            choice.mark_downloaded(name)
        for update in self._updates:
            update()
        self.embedder_details.setText(self.embedder.details())
        self.reranker_details.setText(self.reranker.details())

    def accept(self) -> None:
        for choice in (self.embedder, self.reranker):
            if choice.needs_download() is not None:  # a model that is not there cannot be used: fetch it first
                self.start_download(choice)
                return
        super().accept()

    def _browse_library(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Library file", self.library.text() or str(default_library_path()),
            "Memex library (*.db)", options=QFileDialog.Option.DontConfirmOverwrite)
        if path:
            self.library.setText(path)

    def result_settings(self) -> SettingsResult:
        patterns = [line.strip() for line in self.ignore.toPlainText().splitlines() if line.strip()]
        new = dataclasses.replace(
            self._original, library=self.library.text().strip() or None, embedder=self.embedder.value(),
            reranker=self.reranker.value(), device=self.device.currentData(), threads=self.threads.value(),
            chunk_tokens=self.chunk.value(), chunk_overlap=min(self._original.chunk_overlap, self.chunk.value() // 4),
            ignore=patterns, index_hidden=self.hidden.isChecked(), ocr=self.ocr.isChecked())
        restart = [label for f, label in RESTART_FIELDS.items() if getattr(new, f) != getattr(self._original, f)]
        later = [label for f, label in NEXT_SCAN_FIELDS.items() if getattr(new, f) != getattr(self._original, f)]
        return SettingsResult(new, self.login.isChecked(), self.tray.isChecked(), restart, later)


def _row(choice: QComboBox, button: QPushButton) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addWidget(choice, 1)
    row.addWidget(button)
    return row


def _section(text: str) -> QLabel:
    label = QLabel(text)
    label.setStyleSheet("font-weight: 600; font-size: 13px; padding-top: 8px;")
    return label


def _note(text: str) -> QLabel:
    label = QLabel(text, objectName="PreviewMeta")
    label.setWordWrap(True)
    return label
