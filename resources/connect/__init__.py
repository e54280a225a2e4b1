"""The Spark Connect client suites (seed 002): the data, the Python client's scenarios, both
clients' runner."""

from pathlib import Path

E2E_FILE = Path(__file__).resolve().parent / "e2e.json"
