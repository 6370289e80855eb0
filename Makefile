# The two commands: `make run` and `make test`. Both build .venv from requirements.txt.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum < requirements.txt | cut -d' ' -f1)

.PHONY: run test venv bench worker clean catalogs staff-catalog

venv: $(STAMP)

$(STAMP): requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

run: $(STAMP)
	$(BIN)/flask --app app serve

worker: $(STAMP)
	$(BIN)/flask --app app worker

test: $(STAMP)
	$(BIN)/python -m pytest

# Benchmarks print figures; PostgreSQL is included when BENCH_DATABASE_URL is set or a
# local server answers on 127.0.0.1:5432.
bench: $(STAMP) wrk
	BENCH_DATABASE_URL="$${BENCH_DATABASE_URL:-$$(pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && echo postgresql+psycopg://postgres@127.0.0.1:5432/test)}" \
	  $(BIN)/python bench/availability.py
	BENCH_DATABASE_URL="$${BENCH_DATABASE_URL:-$$(pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && echo postgresql+psycopg://postgres@127.0.0.1:5432/test)}" \
	  $(BIN)/python bench/board.py
	BENCH_DATABASE_URL="$${BENCH_DATABASE_URL:-$$(pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && echo postgresql+psycopg://postgres@127.0.0.1:5432/test)}" \
	  $(BIN)/python bench/reminders.py
	BENCH_DATABASE_URL="$${BENCH_DATABASE_URL:-$$(pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && echo postgresql+psycopg://postgres@127.0.0.1:5432/test)}" \
	  $(BIN)/python bench/webhooks.py
	BENCH_DATABASE_URL="$${BENCH_DATABASE_URL:-$$(pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && echo postgresql+psycopg://postgres@127.0.0.1:5432/test)}" \
	  $(BIN)/python bench/webhook_floor.py
	BENCH_DATABASE_URL="$${BENCH_DATABASE_URL:-$$(pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && echo postgresql+psycopg://postgres@127.0.0.1:5432/test)}" \
	  $(BIN)/python bench/outbox.py

# The webhook benchmark's load comes from wrk; on a fresh Debian machine it is installed here.
.PHONY: wrk
wrk:
	@command -v wrk >/dev/null || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
	  (apt-get install -y wrk >/dev/null || (apt-get update >/dev/null && apt-get install -y wrk >/dev/null)); } || \
	  echo "wrk is missing (apt-get install wrk): the webhook load runs will be skipped"

clean:
	rm -rf $(VENV) .pytest_cache

# After changing a caller text in hotline/prompts.py: refresh the template, then bring
# every language's catalog up to date (new texts arrive untranslated and must be filled).
catalogs: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k N_ --project=Linja -o translations/messages.pot hotline
	$(BIN)/pybabel update -i translations/messages.pot -d translations -w 0 --no-fuzzy-matching --ignore-obsolete

# After changing a staff page's text: extract the Norwegian texts, bring the English
# catalog up to date, then fill the new msgstr lines. Linja reads the .po file itself.
staff-catalog: $(STAMP)
	$(BIN)/pybabel extract -F babel-staff.cfg -k _l --project=Linja -o translations/staff.pot .
	$(BIN)/pybabel update -D staff -l en -i translations/staff.pot -d translations -w 0 --no-fuzzy-matching --ignore-obsolete
