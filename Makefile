# Testbed: `make demo` runs the nightly coexistence job locally, `make test` runs the tests.
# Everything is installed by `make setup` (apt packages, the venv, both Spark releases) into
# TESTBED_CACHE; a second run is a fast no-op.
SHELL := /bin/bash
export TESTBED_CACHE ?= $(HOME)/.cache/testbed
export TESTBED_VENV ?= $(TESTBED_CACHE)/venv
export DAGSTER_HOME ?= $(TESTBED_CACHE)/dagster
BIN := $(TESTBED_VENV)/bin
PYTEST_ARGS ?=

.PHONY: setup demo test ui sweep bench images clean

setup:
	@scripts/setup.sh

demo: setup
	$(BIN)/testbed run coexistence

# The simulated Kubernetes cluster's control plane is built from the Go module proxy on first
# use (~10 min once, then cached by version in TESTBED_CACHE): only the tests need it.
test: setup
	$(BIN)/testbed cluster build > /dev/null
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The compose platform's images (built FROM a debootstrapped Debian, tagged by content): ~1.5 min
# cold, under a second when nothing changed. Runs on compose build them on first use too.
images: setup
	$(BIN)/python -m resources.docker.images

ui: setup
	@$(BIN)/python -m pipelines.home > /dev/null
	$(BIN)/dagster dev -w workspace.yaml

sweep: setup
	$(BIN)/testbed sweep

bench: setup
	$(BIN)/python benchmarks/coexistence.py

clean:
	rm -rf $(TESTBED_VENV)
