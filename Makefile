# Two commands do all the set-up: `make demo` and `make test`. Both create .venv on first use.
# torch is pinned to 2.13.0 so this machine takes its local CPU wheel (an unpinned torch pulls
# several GB of CUDA packages); the package itself accepts torch >= 2.2.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-0.1

.PHONY: demo test lint bench clean test-blender mutants

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/imfit fit assets/astronaut.png -o out/demo --force
	$(VENV)/bin/imfit render out/demo/astronaut.gabor.json -o out/demo/astronaut-zoom.png \
		--size 512x256 --zoom 0.6 --force
	@echo "demo done: out/demo/astronaut.png (preview), out/demo/astronaut.gabor.json (wavelets),"
	@echo "           out/demo/astronaut-zoom.png (a wider view beyond the fitted area)"

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# Plant each bug of tools/mutants_table.py in a temp copy of the tree and run the tests meant to
# catch it; lists the survivors (docs/testing.md). `make mutants MUTANTS_ARGS="-k zoom"` for some.
mutants: $(STAMP)
	$(PY) tools/mutants.py $(MUTANTS_ARGS)

bench: $(STAMP)
	$(PY) bench/fit.py

# The Blender importer against the real bpy wheel (374 MB, Python 3.11, numpy < 2, its own venv):
# too heavy for every CI run, so it is not part of `make test`.
PYTHON311 ?= python3.11
BPY_VENV := .venv-blender
BPY_STAMP := $(BPY_VENV)/.installed-bpy-5.0.1

$(BPY_STAMP):
	$(PYTHON311) -m venv $(BPY_VENV)
	$(BPY_VENV)/bin/pip install -q bpy==5.0.1 'numpy<2'
	touch $(BPY_STAMP)

test-blender: $(STAMP) $(BPY_STAMP)
	IMFIT_TEST_BLENDER=1 $(PY) -m pytest -q tests/test_blender.py

clean:
	rm -rf $(VENV) $(BPY_VENV) out .pytest_cache
