# Lablog: `make run` sets up everything and starts the app; `make test` runs the suite.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: run test install install-test chromium migrate static clean check-deploy gpu-workers

$(VENV)/.installed: requirements.txt requirements/*.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -r requirements.txt -c requirements/constraints.txt
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed requirements/test.txt
	$(PIP) install -r requirements/test.txt -c requirements/constraints.txt
	@touch $@

# Browser tests drive Debian's Chromium (never a downloaded browser).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; \
	  else echo "Browser tests need Debian's Chromium: sudo apt-get install -y chromium"; fi; }

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

migrate: install
	$(PY) manage.py migrate --no-input

static: install
	$(PY) manage.py collectstatic --no-input -v 0

run: migrate static
	@echo ""
	@echo "  Lablog is starting at http://127.0.0.1:$${LABLOG_PORT:-8000}/  (sign up there; the first account is staff)"
	@echo "  Stop everything with Ctrl+C."
	@echo ""
	@# Every process finds searchd (the machine's one copy of the search indexes) on this socket.
	SEARCH_INDEX_SOCKET="$${SEARCH_INDEX_SOCKET:-$${LABLOG_VAR_DIR:-var}/searchd.sock}" $(VENV)/bin/honcho start -f Procfile

# On a GPU machine that shares only DATABASE_URL and REDIS_URL with the web app: one job worker
# per visible GPU (CUDA_VISIBLE_DEVICES picks them), or one CPU worker when there is none.
gpu-workers: install
	$(PY) manage.py jobworkers

test: install-test chromium
	$(PY) tests/run.py

check-deploy: install
	DJANGO_ENV=production SECRET_KEY=$$($(PY) -c 'import secrets;print(secrets.token_urlsafe(64))') \
	  ALLOWED_HOSTS=lablog.example.org DATABASE_URL=postgres://localhost/lablog \
	  $(PY) manage.py check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV) var
