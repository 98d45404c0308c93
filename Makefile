# Two commands do all the set-up on a fresh machine:
#   make demo   - run the main job on the built-in default (writes ./cxr-miliary-demo/)
#   make test   - install whatever is missing and run the whole test suite (what CI runs)
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test demo clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

# Until `cxr-miliary demo` lands (with the default model), the main job available is:
# a mixed phantom set with ground truth and a contact sheet, and one DICOM decoded by `info`.
demo: $(STAMP)
	$(BIN)/cxr-miliary phantom --n 24 --out cxr-miliary-demo --format dcm,png --contact-sheet --workers 2
	$(BIN)/cxr-miliary info cxr-miliary-demo/images/ph0000_000000.dcm

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .hypothesis cxr-miliary-demo
