# tracegraph: one way to do each chore.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PG_URL ?= postgresql://127.0.0.1:5432/test
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run serve install test test-sqlite test-postgres lint format bench demo worker beat clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed

## make run: install, migrate the embedded SQLite, load the demo once, serve on :8000
run: install
	$(BIN)/python manage.py migrate --noinput -v 0
	$(BIN)/python manage.py demo --once --serve-port $(PORT)
	$(MAKE) serve

serve: install
	$(BIN)/gunicorn tracegraph.wsgi --bind $(HOST):$(PORT) --workers 2 --threads 4 \
	  --worker-class gthread --timeout 120 --access-logfile -

## make test: the whole suite on SQLite, then the database tests again on PostgreSQL
test: install
	$(BIN)/python -m pytest -q
	DATABASE_URL=$(PG_URL) $(BIN)/python -m pytest -q -m db

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/graph.py
	$(BIN)/python bench/render.py

## make worker / make beat: background work; both need REDIS_URL (without it tasks run inline)
worker: install
	$(BIN)/celery -A tracegraph worker -l info

beat: install
	$(BIN)/celery -A tracegraph beat -l info

clean:
	rm -rf $(VENV) var
