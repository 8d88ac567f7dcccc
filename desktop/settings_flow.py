"""Settings from the dialog to the running window: the library takes the new values at once
(a run under way keeps the ones it started with), settings that need the library opened again
reopen it, a new embedding model is proposed as a switch, the watcher and the results follow,
and the file is saved off the GUI thread."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from .install_desktop_entry import set_start_at_login, start_at_login_enabled
from .settings_dialog import RESTART_FIELDS, SettingsDialog
from .tasks import describe_error
from .tray import tray_available

if TYPE_CHECKING:
    from .main_window import MainWindow


class SettingsFlow:
    def __init__(self, window: MainWindow) -> None:
        self.window = window

    def open_dialog(self) -> None:
        w = self.window
        if w.library is None:
            return
        dialog = SettingsDialog(w.library.settings, start_at_login=start_at_login_enabled(),
                                minimise_to_tray=w.prefs.minimise_to_tray, tray_available=tray_available(),
                                parent=w)
        if dialog.exec() == SettingsDialog.DialogCode.Accepted:
            w.apply_settings(dialog.result_settings())

    def apply(self, result) -> None:
        w = self.window
        settings = w.library.settings
        new_embedder = result.settings.embedder
        switch = new_embedder != settings.embedder and w.model_switch is not None
        if switch:  # the setting changes when the switch completes (the library saves it then)
            result = dataclasses.replace(
                result, settings=dataclasses.replace(result.settings, embedder=settings.embedder),
                restart_needed=[r for r in result.restart_needed if r != RESTART_FIELDS["embedder"]])
        ignore_changed = (result.settings.ignore != settings.ignore
                          or result.settings.index_hidden != settings.index_hidden)
        ocr_turned_on = result.settings.ocr and not settings.ocr
        settings = result.settings
        changes = w.library.update_settings(settings)  # a run under way keeps the value it started with
        reopen = [r for r in result.restart_needed if r != RESTART_FIELDS["embedder"]]
        if reopen and w.reopener.can_reopen():  # no restart: the library is opened again with them
            result = dataclasses.replace(result, restart_needed=[])
            w.tasks.run(settings.save, lambda _: w.reopener.reopen(settings, reopen), lane="read")
        else:
            w.tasks.run(settings.save, lambda _: w.status.show_message(result.summary(), sticky=True),
                        lane="read")
        try:
            if result.start_at_login != start_at_login_enabled():
                set_start_at_login(result.start_at_login)
        except OSError as exc:
            w.show_error(f"Could not change start at login: {describe_error(exc)}")
        w.prefs.minimise_to_tray = result.minimise_to_tray
        w.set_tray_enabled(result.minimise_to_tray)
        if ignore_changed and w.watch is not None:
            w.watch.restart(settings)
        if changes.search_results:  # a ranking setting: the same query now answers differently
            w.search.refresh()
        if ocr_turned_on and w.indexer is not None:  # the scanned pages waiting are read now
            w.indexer.index(None, quiet=True)
        if switch:
            w.model_switch.propose(new_embedder)
