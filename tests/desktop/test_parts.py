"""Small pieces of the window that need no window: wording, escaping, viewers, the speed meter,
the background-task plumbing."""

from __future__ import annotations

import threading

from memex.core.types import Highlight, IndexReport
from memex.desktop import fmt
from memex.desktop.opener import plan_open, viewer_command
from memex.desktop.progress import RunMeter
from memex.desktop.tasks import TaskManager, describe_error


def test_snippets_are_escaped_before_marking():
    html = fmt.snippet_html("if a < b && c > d: <script>", (Highlight(3, 4),), "x:y")
    assert html == 'if <span style="x:y">a</span> &lt; b &amp;&amp; c &gt; d: &lt;script&gt;'


def test_wording():
    now = 1_700_000_000.0
    assert fmt.relative_time(now - 30, now) == "just now"
    assert fmt.relative_time(now - 5 * 60, now) == "5 min ago"
    assert fmt.relative_time(now - 3 * 3600, now) == "3 hours ago"
    assert fmt.relative_time(now - 30 * 3600, now) == "yesterday"
    assert fmt.count(1, "file") == "1 file" and fmt.count(1200, "file") == "1,200 files"
    assert fmt.duration(75) == "1 min 15 s"
    assert fmt.page_label("pdf", 3) == "page 3" and fmt.page_label("pptx", 2) == "slide 2"
    assert fmt.page_label("text", 1) is None
    assert fmt.folder_label("/home/ann/Papers", "/home/ann") == "~/Papers"
    assert fmt.report_sentence(IndexReport(added=3, failed=1, seconds=2)) == \
        "Indexed 3 files, 1 file could not be read in 2 s"
    assert fmt.report_sentence(IndexReport(cancelled=True)).startswith("Indexing stopped")
    assert fmt.report_sentence(IndexReport()) == "Everything is up to date"


def test_pdf_viewers_open_at_the_page():
    installed = {"okular": "/usr/bin/okular", "zathura": "/usr/bin/zathura"}
    assert viewer_command("/d/a.pdf", 7, installed.get) == ["/usr/bin/okular", "-p", "7", "/d/a.pdf"]
    assert viewer_command("/d/a.pdf", 7, installed.get, preferred="org.pwmt.zathura.desktop") == \
        ["/usr/bin/zathura", "--page=7", "/d/a.pdf"]
    assert viewer_command("/d/a.pdf", 7, {"evince": "/usr/bin/evince"}.get) == \
        ["/usr/bin/evince", "--page-index=7", "/d/a.pdf"]
    assert viewer_command("/d/a.pdf", 7, {}.get) is None


def test_without_a_viewer_the_message_names_the_page(monkeypatch):
    monkeypatch.setattr("memex.desktop.opener.viewer_command", lambda *a, **k: None)
    plan = plan_open("/d/report.pdf", "pdf", 12)
    assert plan.message == "Opened report.pdf; look at page 12"
    assert plan_open("/d/notes.txt", "text", 1).message == "Opened notes.txt"


def test_speed_and_time_left():
    meter = RunMeter(now=0.0)
    assert meter.rate(1, now=0.2) is None  # too early
    assert meter.rate(20, now=10.0) == 2.0
    assert meter.eta(20, 100, now=10.0) == 40.0
    meter.pause(True, now=10.0)
    meter.pause(False, now=20.0)  # ten paused seconds do not count
    assert meter.rate(40, now=30.0) == 2.0


def test_tasks_deliver_on_the_gui_thread_and_drop_superseded_jobs(qtbot):
    tasks = TaskManager()
    gui = threading.get_ident()
    seen: list = []
    gate = threading.Event()
    try:
        tasks.run(lambda: gate.wait(5) and threading.get_ident(), lambda t: seen.append(("worker", t)),
                  lane="search")  # keeps the lane busy while the next two queue up
        tasks.run(lambda: "old", lambda r: seen.append(r), lane="search", key="q")  # replaced below
        tasks.run(lambda: "new", lambda r: seen.append((r, threading.get_ident())), lane="search", key="q")
        gate.set()
        qtbot.waitUntil(lambda: not tasks.busy("search"))
        assert seen[0][0] == "worker" and seen[0][1] != gui
        assert seen[1:] == [("new", gui)]  # "old" never ran; callbacks ran on this thread
        errors: list[str] = []
        tasks.failed.connect(errors.append)
        tasks.run(lambda: {}["missing"])
        qtbot.waitUntil(lambda: bool(errors))
        assert errors == ["Something went wrong: KeyError: 'missing'"]
    finally:
        tasks.shutdown()
    assert describe_error(FileNotFoundError(2, "No such file or directory", "/x")) == \
        "No such file or directory (/x)"
