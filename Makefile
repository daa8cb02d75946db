# sagestack: `make serve` starts the server, `make test` runs the whole suite. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The PyTorch CPU wheel the machine carries; any other spec may pull a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0

.PHONY: serve test bench demo venv docs migration schema-snapshot clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[all]"
	touch $(STAMP)

venv: $(STAMP)

serve: $(STAMP)
	$(BIN)/sagestack serve $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench $(ARGS)

# The end-to-end example (examples/xgboost_end_to_end.py) against the server on the default port, or a
# server it starts and stops again; ARGS="--port N --data-dir D" to choose (python -m sagestack.demo --help).
demo: $(STAMP)
	$(BIN)/python -m sagestack.demo $(ARGS)

# Generated documentation; tests/docs/test_generated_docs.py fails when any of these is stale.
docs: $(STAMP)
	$(BIN)/sagestack coverage --markdown > docs/coverage.md
	$(BIN)/python -m sagestack.algorithms.catalog > docs/algorithms.md
	$(BIN)/python -m sagestack.sdk_flows > docs/sdk-flows.md
	$(BIN)/python -m sagestack.settings > docs/configuration.md
	$(BIN)/python -m sagestack.demo --write-notebook

# A new schema migration from the table definitions (autogenerate against a temp SQLite database at
# head); review it, then `make schema-snapshot`. See docs/development.md, "Changing the schema".
migration: $(STAMP)
	@test -n "$(MSG)" || { echo 'usage: make migration MSG="what changed"' >&2; exit 2; }
	$(BIN)/python -m sagestack.store.migrations revision -m "$(MSG)"

# Rewrite tests/store/schema/*.txt from the migrated schema (postgresql.txt too when
# SAGESTACK_TEST_DATABASE_URL names a server: .ci/postgres.sh starts one).
schema-snapshot: $(STAMP)
	SAGESTACK_UPDATE_SCHEMA_SNAPSHOT=1 $(BIN)/python -m pytest -q tests/store/test_migrations.py -k snapshot

clean:
	rm -rf $(VENV) .pytest_cache
