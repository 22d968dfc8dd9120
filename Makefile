# The two commands: `make run` (embedded platform) and `make test` (whole suite).
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell sha1sum requirements.txt | cut -c1-12)

.PHONY: run test lint bench services soak

$(STAMP): requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

run: $(STAMP)
	$(PY) manage.py runplatform

services:
	bash scripts/ensure-services.sh

test: $(STAMP) services
	. scripts/test-env.sh && $(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(STAMP) services
	$(PY) -m sipcore.bench
	$(PY) -m sipcore.bench_transfer
	$(PY) -m sipplatform.sipworker.bench
	$(PY) -m sipplatform.sipworker.bench_cluster

# 1,000 calls held 10 minutes with the worker's memory watched, then 10,000 accounts
# registering twice (about 20 minutes); SOAK_ARGS="--calls 50 --hold 20 --accounts 200" for
# a short one.
soak: $(STAMP) services
	$(PY) -m sipplatform.sipworker.soak $(SOAK_ARGS)
