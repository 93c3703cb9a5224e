# vhflow: `make demo` and `make test` work on a fresh clone (see README.md).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=
# trusted reference tools (OpenSTA 3.1, HotSpot 6), built from ../shared/reference outside the repo
SHARED ?= $(CURDIR)/../shared
REF := $(SHARED)/reference
export VHFLOW_REFERENCE_PREFIX ?= $(HOME)/.cache/vhflow-reference

.PHONY: demo test venv system-tools reference-tools lint bench clean

$(BIN)/activate:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install -q -e '.[test]'
	@# an editable install compiles nothing; byte-compile once so that start-up is fast even where
	@# PYTHONDONTWRITEBYTECODE is set (CI machines): `vhflow --help` <= 0.3 s, issue 15
	$(BIN)/python -m compileall -q flow plugins convnet_opt > /dev/null
	touch $@

venv: $(VENV)/.installed

# Debian tools the cross-check tests need; installed when missing and we are root (CI is).
system-tools:
	@missing=""; \
	for t in yosys:yosys iverilog:iverilog verilator:verilator klayout:klayout chromium:chromium; do \
	  cmd=$${t%%:*}; pkg=$${t##*:}; command -v $$cmd >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "not root: tests needing$$missing will skip"; fi; \
	fi

# the main job: compress a LeNet-5 (Prune-and-Quantize) and trace its inferences through the
# synthesised mac_array (SAIF + per-layer cycles); then FINE-VH where it pays off (see
# benchmarks/finevh_study.py): dp_ctrl on sky130hd ss_n40C (a slack-rich datapath next to a deep
# controller), 16 timing-driven islands on 1.28/1.76 V, through placement, mixed-rail repair
# (finevh_repair: each cell at its rail's Liberty and limits, repeaters on long wires, back-end
# cells in their island's fence, re-timed after legalisation) and routing; the flow's sign-off
# is clean (fast mode and all-VDDH at the SDC clock, 9.5 ns; no slew/cap violations), and
# finevh_signoff re-times and re-powers both modes and every DVFS level with the route's SPEF;
# `finevh policy` compares the policies on a bursty workload only where none misses a deadline.
# (The mac_array ConvNet trace is not replayed on dp_ctrl: its frame deadlines are the
# accelerator's, and every policy, nominal included, would miss them there.)
DEMO_TRACE := $(CURDIR)/runs/mac_array/demo-trace
DEMO_PQ := $(CURDIR)/runs/mac_array/demo-pq
DEMO_FINEVH := $(CURDIR)/runs/dp_ctrl/sky130hd/demo-finevh
demo: venv
	$(BIN)/vhflow run designs/mac_array/config.toml --tag demo-synth --to synth
	$(BIN)/vhflow convnet pq --budget-kib 8 --budget-kib 4 --epochs 20 --out $(DEMO_PQ)
	$(BIN)/vhflow convnet trace runs/mac_array/nangate45/demo-synth --out $(DEMO_TRACE) --weights $(DEMO_PQ)/models/fp32.pt \
	  --bits 8 --bits 4 --checkpoint $(DEMO_PQ)/models/budget_8KiB.pt --checkpoint $(DEMO_PQ)/models/budget_4KiB.pt \
	  --images 1 --max-tiles 24
	$(BIN)/vhflow run designs/dp_ctrl/config.toml --tag demo-finevh --set FINEVH_ISLANDS=16 \
	  --set FINEVH_VDDL_CORNER=ss_n40C_1v28 --set FINEVH_CLOCK=sdc --set FINEVH_RAIL_MARGIN=20 \
	  --set FINEVH_TRACE=$(CURDIR)/designs/dp_ctrl/burst_trace.json
	$(BIN)/vhflow finevh policy $(DEMO_FINEVH)

# idempotent: each script exits at once when its tool is already built (prebuilt OpenSTA where it runs)
reference-tools:
	@test -d $(REF) || { echo "no $(REF): the reference tools cannot be built"; exit 1; }
	$(REF)/build-opensta.sh $(REF)/opensta-src.tar.gz $(REF)/cudd-src.tar.gz $(VHFLOW_REFERENCE_PREFIX)
	$(REF)/build-hotspot.sh $(REF)/hotspot-src.tar.gz $(VHFLOW_REFERENCE_PREFIX)

test: venv system-tools reference-tools
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check flow plugins convnet_opt tests benchmarks examples

bench: venv reference-tools
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf runs .pytest_cache
