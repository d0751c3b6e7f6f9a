# Ruta: `make run` and `make test` work on a fresh clone with nothing installed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
APP_PACKAGES := protocols institutions workflows notifications ruta

.PHONY: install run test lint typecheck unit clean i18n bench

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==26.3
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	@# browser tests drive Debian's chromium with Playwright (no `playwright install`)
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/ruta init
	$(BIN)/ruta demo --if-empty
	$(BIN)/ruta serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q -n 2 --dist loadgroup

test: lint typecheck unit

# Speed and scale against the floors (benchmarks/README.md): SQLite, and PostgreSQL when
# RUTA_BENCH_POSTGRES_URL is set; figures appended to benchmarks/results/runs.jsonl.
# BENCH_ARGS="--quick" checks it runs; BENCH_ARGS="sweep --db sqlite" runs one part.
bench: $(STAMP)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV) ruta-data .mypy_cache .pytest_cache .ruff_cache

# Refresh the translation catalogues after changing strings (then translate the new entries
# in <dir>/{es,pt,en}/LC_MESSAGES/messages.po), one catalogue per package, never mixed:
# - the console: `_("...")` in ui/ (babel.cfg) into ui/locales/;
# - the notifications' reason labels: `N_("...")` in notifications/ (and nothing else:
#   --no-default-keywords) into notifications/locales/.
i18n: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _ --no-location --sort-output -o ui/locales/messages.pot .
	$(BIN)/pybabel extract --no-default-keywords -k N_ --no-location --sort-output \
	  -o notifications/locales/messages.pot notifications
	for d in ui/locales notifications/locales; do \
	  for l in es pt en; do \
	    if [ -f $$d/$$l/LC_MESSAGES/messages.po ]; then \
	      $(BIN)/pybabel update -i $$d/messages.pot -d $$d -l $$l --no-fuzzy-matching; \
	    else \
	      $(BIN)/pybabel init -i $$d/messages.pot -d $$d -l $$l; \
	    fi; \
	  done; \
	done
