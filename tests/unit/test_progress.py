"""The progress renderer of `testbed run`: live on a terminal, plain lines elsewhere, and safe
while events arrive from several threads as the live table redraws."""

import io
import re
import threading

from rich.console import Console

from pipelines.progress import Progress
from resources import progress


def test_without_a_terminal_every_event_is_one_timed_line():
    out = io.StringIO()
    with Progress(Console(file=out, force_terminal=False, width=80)):
        progress.emit("service", "spark-3.5-master", "starting")
        progress.emit("service", "spark-3.5-master", "ready", seconds=2.4)
        progress.emit("check", "spark_3_5/release release_ready", "PASS", description="ok")
    lines = out.getvalue().splitlines()
    assert re.fullmatch(r"  \[ +[\d.]+s\] service spark-3\.5-master: ready in 2\.4s", lines[1])
    assert lines[2].endswith("check spark_3_5/release release_ready: PASS")
    assert not any(line.startswith(("PASS", "FAIL", "WARN")) for line in lines)  # not table rows


def test_on_a_terminal_events_from_many_threads_while_the_table_redraws():
    out = io.StringIO()
    renderer = Progress(Console(file=out, force_terminal=True, width=100))

    def burst(index: int) -> None:
        for step in range(60):
            progress.emit("service", f"svc-{index}-{step % 5}", "starting")
            progress.emit("check", f"asset/{index} check_{step}", "PASS", description="fine")
            progress.emit("service", f"svc-{index}-{step % 5}", "ready", seconds=0.1)

    with renderer:
        renderer.live.refresh_per_second = 50  # redraw as often as it will
        threads = [threading.Thread(target=burst, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads), "progress deadlocked"
    text = out.getvalue()
    assert "WHAT" in text and "svc-3-4" in text and "ready in 0.1s" in text
    assert text.count("check_59") == 4
