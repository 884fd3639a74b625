# The two commands a newcomer needs: `make demo` and `make test`. Everything else supports them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LEADLINK := $(BIN)/leadlink
STAMP := $(VENV)/.installed

.PHONY: install demo test pytest dbt-test lint lint-python db-up db-down phone-metadata phone-cases bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

## The main job: embedded PostgreSQL, sample data, dbt build, summary.
demo: install
	$(LEADLINK) demo

## Every test: ruff and the import contracts, pytest, dbt build (data + unit tests) on the
## sample data, sqlfluff lint.
test: install lint-python pytest dbt-test lint

lint-python: install
	$(BIN)/ruff check leadlink loaders tests benchmarks scripts
	$(BIN)/lint-imports

## Two workers (the machine's 2 cores; most of a test's time is dbt and PostgreSQL in other
## processes); a file stays on one worker so its module fixtures are built once.
pytest: install
	$(BIN)/pytest -q -n 2 --dist loadfile

dbt-test: install
	LEADLINK_DATABASE_NAME=leadlink_ci $(LEADLINK) demo --fresh --quiet

## sqlfluff over every SQL file; the macros' SQL through analyses/macros/, which renders each
## macro (the dbt templater skips macro files: see .sqlfluffignore).
lint: install
	$(LEADLINK) exec -- $(BIN)/sqlfluff lint models macros tests analyses
	cd leadlink/crm/publish/sql && $(abspath $(BIN))/sqlfluff lint .

db-up: install
	$(LEADLINK) db up

db-down: install
	$(LEADLINK) db down

## Regenerate the phone metadata seed after a phonenumbers upgrade.
phone-metadata: install
	$(BIN)/python scripts/generate_phone_metadata.py

phone-cases: install
	$(BIN)/python scripts/generate_phone_cases.py

clean:
	-$(LEADLINK) db down
	rm -rf target logs .leadlink
