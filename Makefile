# PB-KPI Lens — the two commands: `make run` and `make test` (see README).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# the industry profile of the demo: power (default), oilfield or plant; each has its own warehouse, demo
# files and accounts, so `make run PROFILE=oilfield` never touches the power demo
PROFILE ?= $(or $(PBKPI_PROFILE),power)
SUFFIX := $(if $(filter power,$(PROFILE)),,-$(PROFILE))
DB     ?= $(or $(PBKPI_DB),data/warehouse$(SUFFIX).duckdb)
DEMO_DIR := data/demo$(SUFFIX)
AUTH_DB := $(or $(PBKPI_AUTH_DB),data/auth$(SUFFIX).sqlite)
# what people add beside a warehouse (accounts, notes, targets) belongs to that warehouse's company
BESIDE = PBKPI_AUTH_DB=$(abspath $(AUTH_DB)) PBKPI_NOTES=$(abspath $(or $(PBKPI_NOTES),data/notes$(SUFFIX).sqlite)) \
         PBKPI_TARGETS=$(abspath $(or $(PBKPI_TARGETS),data/targets$(SUFFIX).json))
PORT   ?= 8501

.PHONY: setup system-deps run warm demo test test-fast stress bench bench-browser bench-lake validate lock clean cluster cluster-stop

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@

setup: $(VENV)/.installed

# Chromium and CJK fonts for the browser test and static chart export, PostgreSQL (the lake's catalog) and
# HAProxy (the cluster's proxy) for the lake tests and `make cluster` (Debian packages, needs root).
system-deps:
	@if command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi "Noto Sans CJK" \
	    && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && command -v haproxy >/dev/null 2>&1; then \
	  echo "chromium, fonts-noto-cjk, postgresql and haproxy present"; \
	elif [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk postgresql haproxy >/dev/null) \
	  || echo "WARNING: could not install chromium/fonts-noto-cjk/postgresql/haproxy; browser and lake tests will fail"; \
	else echo "WARNING: not root: install chromium, fonts-noto-cjk, postgresql and haproxy to run the browser and lake tests"; fi

$(DB): | setup
	$(PY) -m etl demo --profile $(PROFILE) --db $(DB) --out $(DEMO_DIR)
	@echo "Built the SYNTHETIC $(PROFILE) demo warehouse $(DB) (合成演示数据). Load your own files with: $(PY) -m etl load FILE..."

demo: setup
	$(PY) -m etl demo --profile $(PROFILE) --db $(DB) --out $(DEMO_DIR)

# the statistics pages' caches are warmed in the background while the server starts (application/warm.py)
# sign-in: on the synthetic demo warehouse, demo accounts are created (once) and printed (auth/__main__.py)
run: setup $(DB)
	@PBKPI_DB=$(abspath $(DB)) nohup $(PY) -m application.warm >/dev/null 2>&1 &
	@PBKPI_DB=$(abspath $(DB)) $(BESIDE) $(PY) -m auth demo
	PBKPI_DB=$(abspath $(DB)) $(BESIDE) $(PY) -m ui.serve --server.port $(PORT)

# several servers on one lake, on this machine: PostgreSQL + SeaweedFS + the demo lake + two dashboard servers
# behind HAProxy with sticky sessions (cluster/__main__.py; README, "Beyond one machine")
CLUSTER_DIR ?= data/cluster
CLUSTER_PORT ?= 8080
cluster: setup system-deps $(DB)
	$(PY) -m cluster up --dir $(CLUSTER_DIR) --port $(CLUSTER_PORT) --db $(DB)

cluster-stop: setup
	$(PY) -m cluster down --dir $(CLUSTER_DIR)

warm: setup
	PBKPI_DB=$(abspath $(DB)) $(PY) -m application.warm

# a worker that dies (a crash inside a C extension) stops the run at once: with `--dist loadgroup`, pytest-xdist
# 3.8 hangs after replacing a crashed worker (pytest-xdist issues 1323, 1378), which would hold CI to its timeout
test: setup system-deps
	$(PY) -m pytest -n 2 --dist loadgroup --max-worker-restart 0

test-fast: setup
	$(PY) -m pytest -n 2 --dist loadgroup --max-worker-restart 0 -m "not browser"

# the load-while-reading and SIGKILL tests at five times the suite's size
stress: setup
	PBKPI_STRESS=5 $(PY) -m pytest tests/robustness tests/lake/test_writers.py -q

bench: setup
	$(PY) -m bench
	$(MAKE) bench-browser
	$(MAKE) bench-lake

# the lake: concurrent provincial pushes, publish, commit-to-visible, file vs lake reads, page runs per second
# with one and two servers (bench/lake.py; PostgreSQL and SeaweedFS started for the run)
# (and at group scale when a group-scale bench run has left its warehouse, GROUP_DB)
bench-lake: setup system-deps
	$(PY) -m bench.lake --scales demo,province$(if $(wildcard $(GROUP_DB)),$(COMMA)group) --repeat 3

# page times in a real browser beside a one-chart Streamlit floor timed in the same run (bench/browser.py)
# (and at group scale when `python -m bench --scales group` has left its warehouse)
COMMA := ,
GROUP_DB ?= bench/results/group/w.duckdb
bench-browser: setup system-deps $(DB)
	$(PY) -m bench.browser --db demo=$(DB) $(if $(wildcard $(GROUP_DB)),--db group=$(GROUP_DB)) --repeat 3 --out bench/results/browser.json

# Monte Carlo validation of every statistical verdict (about 4 minutes; bench/VALIDATION.md)
validate: setup
	$(PY) -m bench.validate

lock:
	$(PY) -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache test-artifacts
