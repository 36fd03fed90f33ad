# Two commands do all the set-up: `make demo` and `make test`. Both create .venv on first use.
# torch is pinned to 2.13.0 so this machine takes its local CPU wheel (an unpinned torch pulls
# several GB of CUDA packages); the package itself accepts torch >= 2.2.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-0.1

.PHONY: demo test lint bench clean test-blender test-hosts mutants

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

# The real hosts that stay out of `make test` (heavy): today Blender's bpy wheel (Blender 5.0.1
# as a module, Python 3.11, numpy < 2, its own venv .venv-blender made by .ci/hosts/blender.sh).
# CI (.ci/run) runs it after `make test`; CI=true makes a missing .venv-blender a failure, not a
# skip. Cost measured in docs/testing.md. `make test-blender` installs the venv first.
test-hosts: $(STAMP)
	CI=true IMFIT_TEST_BLENDER=1 $(PY) -m pytest -q -m bpy tests/test_blender.py

test-blender:
	bash .ci/hosts/blender.sh
	$(MAKE) test-hosts

clean:
	rm -rf $(VENV) $(BPY_VENV) out .pytest_cache
