"""Live progress of `testbed run` on the terminal, from the `testbed.progress` events.

On a terminal (rich): a table of every release, service and job with its state and elapsed time,
redrawn as they change; check results printed above it as they finish. Anywhere else (a CI log, a
pipe): one plain line per event, timed from the start of the run.
"""

import logging
import threading
import time

from rich.console import Console
from rich.live import Live
from rich.table import Table

from resources.progress import LOGGER

STYLE = {"ready": "green", "done": "green", "PASS": "green", "failed": "red", "FAIL": "red",
         "cancelled": "yellow", "WARN": "yellow"}


def describe(event: dict) -> str:
    state = event["state"]
    if "seconds" in event and state in ("ready", "done"):
        return f"{state} in {event['seconds']}s"
    if state == "failed" and event.get("error"):
        return f"failed: {event['error']}"
    return state


class Progress(logging.Handler):
    """Attach with `with Progress(console):` around a run."""

    def __init__(self, console: Console | None = None):
        super().__init__(level=logging.INFO)
        self.console = console or Console()
        self.began = time.monotonic()
        self.rows: dict[str, tuple[str, str, float]] = {}  # name -> (kind, state, since)
        # Guards rows while the refresh thread redraws. Not `self.lock`: logging.Handler holds that
        # one around emit(), and emit() prints through the Live, whose refresh thread holds its own
        # lock while it asks for the table (one lock for both would deadlock).
        self.rows_lock = threading.Lock()
        self.live: Live | None = None

    # --- logging.Handler ---------------------------------------------------------------------------

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "testbed", None)
        if event is None:
            return
        if self.live is None:
            self._line(event)  # logging.Handler serializes emit(): whole lines
            return
        if event["kind"] == "check":
            result = event["state"]
            self.console.print(f"[{STYLE.get(result, '')}]{result:4}[/] {event['name']}  "
                               f"[dim]{event.get('description', '')[:120]}[/]")
        elif event["kind"] == "teardown" and event["state"] == "done":
            self.console.print(f"teardown of {event['name']}: {event['items']} items in "
                               f"{event['seconds']}s, {event['left']} left")
        else:
            with self.rows_lock:
                self.rows[event["name"]] = (event["kind"], describe(event), time.monotonic())
            self.live.refresh()

    def _line(self, event: dict) -> None:
        """Without a terminal: one line per event (never starting like a check-table row)."""
        elapsed = time.monotonic() - self.began
        if event["kind"] == "check":
            text = f"check {event['name']}: {event['state']}"
        elif event["kind"] == "teardown" and event["state"] == "done":
            text = (f"teardown {event['name']}: {event['items']} items in {event['seconds']}s, "
                    f"{event['left']} left")
        else:
            text = f"{event['kind']} {event['name']}: {describe(event)}"
        self.console.print(f"  [{elapsed:6.1f}s] {text}", markup=False, highlight=False,
                           soft_wrap=True)

    def _table(self) -> Table:
        with self.rows_lock:
            rows = list(self.rows.items())
        table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
        table.add_column("WHAT", no_wrap=True)
        table.add_column("STATE")
        table.add_column("ELAPSED", justify="right")
        now = time.monotonic()
        for name, (kind, state, since) in rows:
            word = state.split()[0].rstrip(":")
            running = word in ("starting", "deploying", "running")
            elapsed = f"{now - since:5.1f}s" if running else ""
            table.add_row(f"{kind} {name}", f"[{STYLE.get(word, 'cyan')}]{state}[/]", elapsed)
        return table

    # --- context manager ---------------------------------------------------------------------------

    def __enter__(self) -> "Progress":
        if self.console.is_terminal:
            self.live = Live(console=self.console, refresh_per_second=4,
                             get_renderable=self._table)
            self.live.start()
        LOGGER.addHandler(self)
        return self

    def __exit__(self, *exc) -> None:
        LOGGER.removeHandler(self)
        if self.live is not None:
            self.live.stop()
