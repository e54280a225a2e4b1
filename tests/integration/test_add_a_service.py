"""Adding a service is one small class: the README's example, run for real. The environment
records it the moment it is spawned, the platform stops it at teardown, a platform that cannot run
it refuses it by name, and nothing is left."""

import sys
from pathlib import Path

import httpx
import pytest

from resources.model.errors import ConfigError
from resources.platforms.environment import Environment
from resources.platforms.local import LocalPlatform
from resources.ports import HOST
from resources.probes import HttpOk, Probe
from resources.processes import ProcessSpec
from resources.services.base import Service
from tests.conftest import LeakWatch


# --- the README's "Add a service" example, verbatim ----------------------------------------------
class FileServer(Service):
    """Serves a directory over HTTP (Python's http.server): the smallest real service."""

    kind = "file-server"
    what = "a static file server"
    port_role = "http"      # one port, picked free on 127.0.0.1 when it is made

    def __init__(self, root: Path, ready_timeout: float = 60.0):
        super().__init__("file-server", root, ready_timeout, owner="docs")

    def prepare(self) -> None:
        (self.root / "www").mkdir(parents=True, exist_ok=True)
        (self.root / "www" / "index.html").write_text("hello from the environment\n")

    def recipe(self) -> ProcessSpec:
        return ProcessSpec(name=self.name, cwd=self.root, log_file=self.root / "server.log",
                           argv=[sys.executable, "-m", "http.server", str(self.port),
                                 "--bind", HOST, "--directory", str(self.root / "www")])

    def probe(self) -> Probe:
        return HttpOk(f"http://{HOST}:{self.port}/")
# -------------------------------------------------------------------------------------------------


def test_a_new_service_runs_in_the_ledger_and_leaves_nothing(state_dir):
    watch = LeakWatch(state_dir)
    env = Environment.create(LocalPlatform(state_dir), run_id="add-a-service")
    server = env.start(FileServer(env.path / "files"))
    assert httpx.get(f"http://{HOST}:{server.port}/").text == "hello from the environment\n"
    [handle] = [h for h in env.state.handles if h.kind == "process"]
    assert (handle.name, handle.owner, handle.ports) == ("file-server", "docs",
                                                         {"http": server.port})
    report = env.teardown()
    assert [(e.what, e.result) for e in report.entries][0] == \
        (f"process file-server (pid {handle.pid})", "stopped")
    assert report.leftovers == [] and watch.leaks() == []


def test_a_platform_that_cannot_run_it_says_so_before_it_starts(state_dir, monkeypatch):
    monkeypatch.setattr(LocalPlatform, "provides",
                        property(lambda self: frozenset({"postgres"})))
    env = Environment.create(LocalPlatform(state_dir), run_id="add-a-service")
    with pytest.raises(ConfigError, match=r"the local platform cannot run service 'file-server' "
                                          r"\(a static file server\)"):
        env.start(FileServer(env.path / "files"))
    assert env.state.handles == [] and env.teardown().leftovers == []


def test_the_readme_shows_this_example_verbatim():
    """The README's example is the class above, character for character: it cannot drift."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Add a service", 1)[1]
    shown = section.split("```python\n", 1)[1].split("```", 1)[0]
    source = Path(__file__).read_text()
    start = source.index("class FileServer(Service):")
    example = source[start:source.index("# ----", start)]
    assert shown == example
