# sagestack: `make serve` starts the server, `make test` runs the whole suite. Both set up .venv first,
# with every package at the version the lock (requirements/constraints.txt) pins, so a fresh clone on any
# day installs what the last `make lock` tested. `make help` lists the targets.
PYTHON ?= python3
# pytest-xdist workers for `make test` (the machine's cores; CI has 2); tests/conftest.py groups the tests.
TEST_WORKERS ?= 2
VENV := .venv
BIN := $(VENV)/bin
# The lock: every package of every extra pinned (per Python version where they differ), plus pip and
# setuptools. torch==2.13.0 in it takes the machine's CPU wheel (2.13.0+cpu) where one lies in pip's
# find-links; never loosen that line, any other torch spec may pull a multi-GB CUDA build.
LOCK := requirements/constraints.txt
PIP_INSTALL := $(BIN)/python -m pip install --quiet --constraint $(LOCK)
# The project itself is built with .venv's (locked) setuptools, not a fresh one from the index.
INSTALL_PROJECT := $(PIP_INSTALL) --no-build-isolation --editable
# Stamps: one per install level; each is redone when pyproject.toml or the lock changes.
TOOLS_STAMP := $(VENV)/.tools-installed
SERVE_STAMP := $(VENV)/.serve-installed
TEST_STAMP := $(VENV)/.test-installed
# SDK v3 (sagemaker>=3) cannot share a venv with SDK v2: tests/sdk_v3 run their programs with
# .venv-sdkv3's Python, built from its own lock (requirements/sdk-v3.txt, `make lock-sdkv3`).
SDKV3_VENV := .venv-sdkv3
SDKV3_LOCK := requirements/sdk-v3.txt
SDKV3_STAMP := $(SDKV3_VENV)/.installed
# `make lock` runs this uv from its own small venv (not part of the lock it writes).
UV_VERSION := 0.13.9
UV := $(VENV)/lock-tools/bin/uv
UV_STAMP := $(VENV)/lock-tools/.uv-$(UV_VERSION)
LINT_PATHS := src tests bench

.PHONY: help serve test lint bench demo docs lock lock-sdkv3 sdkv3-venv wheel venv migration schema-snapshot pythons clean

help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 10

# .venv with the locked pip and setuptools.
$(TOOLS_STAMP): $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) pip setuptools
	touch $@

# What the server needs: the core dependencies and the built-in algorithms (no SDK, no pytest).
$(SERVE_STAMP): $(TOOLS_STAMP) pyproject.toml $(LOCK)
	$(INSTALL_PROJECT) ".[algorithms]"
	touch $@

# Everything for tests, benchmarks, the demo and linting, on top of the server's packages.
$(TEST_STAMP): $(SERVE_STAMP) pyproject.toml $(LOCK)
	$(INSTALL_PROJECT) ".[algorithms,notebooks,postgres,ray,spark,test,dev]"
	touch $@

venv: $(TEST_STAMP)  ## set up .venv with everything (the test level)

# .venv-sdkv3: SDK v3 at the versions its lock pins (no torch: the lock holds none, and `make lock-sdkv3`
# refuses one), for tests/sdk_v3 and for the server's ModelBuilder endpoints in those tests.
$(SDKV3_STAMP): $(SDKV3_LOCK)
	$(PYTHON) -m venv $(SDKV3_VENV)
	$(SDKV3_VENV)/bin/python -m pip install --quiet --requirement $(SDKV3_LOCK) --constraint $(SDKV3_LOCK)
	touch $@

sdkv3-venv: $(SDKV3_STAMP)  ## set up .venv-sdkv3 (SDK v3, for tests/sdk_v3)

serve: $(SERVE_STAMP)  ## start the server (ARGS="--port 6000 --data-dir /tmp/ss"; sagestack serve --help)
	$(BIN)/sagestack serve $(ARGS)

test: $(TEST_STAMP) $(SDKV3_STAMP)  ## run the whole test suite on TEST_WORKERS processes (PYTEST_ARGS="-k s3" to choose)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: $(TEST_STAMP)  ## ruff check and ruff format --check (rules in pyproject.toml; `ruff format src tests bench` fixes the format)
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

bench: $(TEST_STAMP)  ## run the benchmarks under bench/ (ARGS="formats s3" for some)
	$(BIN)/python -m bench $(ARGS)

# The end-to-end example (examples/xgboost_end_to_end.py, SageMaker SDK code) against the server on the
# default port, or a server it starts and stops again; ARGS="--port N --data-dir D" to choose.
demo: $(TEST_STAMP)  ## run the end-to-end example (python -m sagestack.demo --help)
	$(BIN)/python -m sagestack.demo $(ARGS)

# Generated documentation; tests/docs/test_generated_docs.py fails when any of these is stale.
docs: $(SERVE_STAMP)  ## regenerate docs/coverage.md, algorithms.md, framework-versions.md, sdk-flows.md, configuration.md and the example notebook
	$(BIN)/sagestack coverage --markdown > docs/coverage.md
	$(BIN)/python -m sagestack.algorithms.catalog > docs/algorithms.md
	$(BIN)/python -m sagestack.environments.frameworks > docs/framework-versions.md
	$(BIN)/python -m sagestack.sdk_flows > docs/sdk-flows.md
	$(BIN)/python -m sagestack.settings > docs/configuration.md
	$(BIN)/python -m sagestack.demo --write-notebook

# A new schema migration from the table definitions (autogenerate against a temp SQLite database at
# head); review it, then `make schema-snapshot`. See docs/development.md, "Changing the schema".
migration: $(TEST_STAMP)  ## a new schema migration (MSG="what changed"; docs/development.md)
	@test -n "$(MSG)" || { echo 'usage: make migration MSG="what changed"' >&2; exit 2; }
	$(BIN)/python -m sagestack.store.migrations revision -m "$(MSG)"

# Rewrite tests/store/schema/*.txt from the migrated schema (postgresql.txt too when
# SAGESTACK_TEST_DATABASE_URL names a server: .ci/postgres.sh starts one).
schema-snapshot: $(TEST_STAMP)  ## rewrite tests/store/schema/*.txt from the migrated schema
	SAGESTACK_UPDATE_SCHEMA_SNAPSHOT=1 $(BIN)/python -m pytest -q tests/store/test_migrations.py -k snapshot

# Re-resolve every dependency to the newest versions pyproject.toml allows, for Python 3.10 to 3.13 at
# once (uv's universal resolution), write the lock, install it and regenerate the generated docs (the
# operation tables follow botocore). LOCK_ARGS= (empty) keeps the current pins where they still fit,
# e.g. after adding a dependency. Commit the lock and the docs together, after `make test`.
LOCK_ARGS ?= --upgrade
lock: $(UV_STAMP)  ## re-pin every dependency (requirements/constraints.txt) and regenerate the docs
	$(UV) pip compile pyproject.toml requirements/build-tools.in --all-extras --universal \
		--python-version 3.10 --excludes requirements/cuda-excludes.txt \
		--custom-compile-command "make lock" $(LOCK_ARGS) --output-file $(LOCK)
	! grep -E '^(nvidia-|cuda-|triton)' $(LOCK) || \
		{ echo "CUDA-only packages in $(LOCK): add them to requirements/cuda-excludes.txt"; exit 1; }
	$(MAKE) docs

# Re-pin SDK v3 for .venv-sdkv3 (Python 3.11, this platform); never a CUDA torch.
lock-sdkv3: $(UV_STAMP)  ## re-pin requirements/sdk-v3.txt from requirements/sdk-v3.in
	$(UV) pip compile requirements/sdk-v3.in --python-version 3.11 --excludes requirements/cuda-excludes.txt \
		--custom-compile-command "make lock-sdkv3" $(LOCK_ARGS) --output-file $(SDKV3_LOCK)
	! grep -E '^(torch|nvidia-|cuda-|triton)' $(SDKV3_LOCK) || \
		{ echo "torch or CUDA packages in $(SDKV3_LOCK): exclude them (requirements/cuda-excludes.txt)"; exit 1; }

$(UV_STAMP):
	$(PYTHON) -m venv $(VENV)/lock-tools
	$(VENV)/lock-tools/bin/python -m pip install --quiet uv==$(UV_VERSION)
	touch $@

# The declared Python versions (3.10-3.13): for each python3.X found (on PATH or under pyenv), a venv
# .venv/pythons/3.X from the lock (server, algorithms, pytest, AWS CLI, SageMaker SDK; no torch) and the
# smoke subset run with it, then a summary (.ci/pythons.sh). Not part of `make test` or CI.
# PYTHONS_VERSIONS="3.10 3.13" and PYTHONS_TESTS="tests/hosting -m 'not slow'" (pytest's arguments)
# choose. See docs/development.md, "Python versions".
pythons:  ## install from the lock and run the smoke tests on every Python 3.10-3.13 found
	bash .ci/pythons.sh

# A wheel and an sdist in dist/ (built with the locked setuptools).
wheel: $(TEST_STAMP)  ## build dist/sagestack-*.whl and the sdist
	$(BIN)/python -m build --no-isolation --outdir dist .

clean:  ## remove .venv, build outputs and caches
	rm -rf $(VENV) $(SDKV3_VENV) .pytest_cache .ruff_cache build dist src/*.egg-info
