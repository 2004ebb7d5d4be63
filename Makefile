# Two commands matter: `make run` (install, then start the main job) and `make test`.
VENV   ?= .venv
# The interpreter the venv is made from: Debian's CPython when the machine has it (built with PGO and
# LTO: on this machine 1.5-1.8x faster on pure-Python code than the pyenv build first on PATH, ~10 %
# less CPU for a whole `beidou rtk` run; same 3.11 ABI and wheels, bit-identical results), else python3.
PYTHON ?= $(firstword $(wildcard /usr/bin/python3.11) python3)
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed

.PHONY: install run test bench sysdeps ext clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV) || python3 -m venv --clear $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.lock
	@# editable as a plain path entry (compat): the default import-hook finder costs ~10 ms per process
	$(PY) -m pip install -q --no-deps --no-build-isolation -e . --config-settings editable_mode=compat
	@# byte-compile once (this machine sets PYTHONDONTWRITEBYTECODE=1: otherwise every `beidou`
	@# process recompiles ~40 modules, ~100 ms of start-up)
	$(PY) -m compileall -q beidou rtk_engine ntrip_caster receivers cors_network api > /dev/null
	touch $(STAMP)

install: $(STAMP) ext

# Optional Cython kernels (rtk_engine/_ext, tools/build_ext.py). Never fails: without a compiler
# it prints a note and the engine uses its pure-numpy path (same numbers).
ext: $(STAMP)
	-@$(PY) tools/build_ext.py || echo "ext: not built; the pure-numpy path will be used"

# System packages the tests use as independent oracles / real clients (RTKLIB).
sysdeps:
	@bash tools/ensure_sysdeps.sh

run: install
	$(VENV)/bin/beidou serve --demo

test: install sysdeps
	$(PY) -m pytest -q

bench: install sysdeps
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info
