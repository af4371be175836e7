# The two README commands, plus lint and bench. `demo` and `test` build .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ONLY ?=

.PHONY: demo test fuzz lint bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/archive demo

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

# The OpenAPI contract fuzzed longer than `make test` does (tests/service/test_openapi_fuzz.py).
fuzz: $(STAMP)
	ARCHIVE_FUZZ_EXAMPLES=$${ARCHIVE_FUZZ_EXAMPLES:-60} $(BIN)/python -m pytest -n 0 tests/service/test_openapi_fuzz.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP)
	rm -f bench/results.json
	@set -e; for script in bench/*.py; do \
		name=$$(basename $$script .py); \
		case "$$name" in _*) continue;; esac; \
		if [ -n "$(ONLY)" ] && [ "$$name" != "$(ONLY)" ]; then continue; fi; \
		echo "== bench/$$name"; $(BIN)/python -m bench.$$name; \
	done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
