# Two commands do all the set-up on a fresh machine:
#   make demo   - run the main job on the built-in default (writes ./cxr-miliary-demo/)
#   make test   - install whatever is missing and run the whole test suite (what CI runs)
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test demo clean chromium default-model

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The report test drives a real browser (Debian's chromium); installed here when we can
# (root with apt), otherwise that one test is skipped with a message.
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "note: chromium not installed; the report's browser test will be skipped"

test: $(STAMP) chromium
	$(BIN)/python -m pytest -n 2 -q

demo: $(STAMP)
	$(BIN)/cxr-miliary demo

# The default model in weights/default: trained on phantoms only (CPU, about 40 minutes here).
default-model: $(STAMP)
	$(BIN)/python train.py fit --config configs/phantom.yaml --config configs/default_model.yaml
	rm -rf weights/default && cp -r "$$(ls -d runs/default/lightning_logs/version_* | sort -V | tail -1)/bundle" weights/default

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .hypothesis cxr-miliary-demo
