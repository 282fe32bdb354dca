# dislab: the two commands a new machine needs are `make run` and `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# One thread per process keeps the 2-core machines from thrashing (see benchmarks/README.md);
# these glibc settings stop the allocator from mmapping/unmapping every large buffer.
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1
export OPENBLAS_NUM_THREADS ?= 1
export MALLOC_MMAP_THRESHOLD_ ?= 33554432
export MALLOC_TRIM_THRESHOLD_ ?= 1073741824
OUT    ?= out
# tcmalloc makes the training step ~35% faster on these VMs (benchmarks/TRAIN.md); it is used
# for `make run` and `make bench` when installed (apt-get install libtcmalloc-minimal4).
TCMALLOC := $(firstword $(wildcard /usr/lib/*/libtcmalloc_minimal.so.4 /usr/lib/libtcmalloc_minimal.so.4))
FAST_MALLOC := $(if $(TCMALLOC),LD_PRELOAD=$(TCMALLOC))

.PHONY: install run test test-slow bench lint clean

install: $(STAMP)

# torch: the CPU wheel (torch==2.13.0, on local disk here) unless an NVIDIA GPU is present.
$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then \
	  $(PY) -m pip install -q "torch>=2.1"; \
	else \
	  $(PY) -m pip install -q "torch==2.13.0"; \
	fi
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(FAST_MALLOC) $(VENV)/bin/dislab demo --out $(OUT)

test: $(STAMP)
	$(PY) -m pytest -q

# The slow tests include the Ray backend, an optional extra (`pip install dislab[ray]`).
test-slow: $(STAMP)
	$(PY) -m pip install -q -e ".[dev,ray]"
	$(PY) -m pytest -q -m slow

bench: $(STAMP)
	$(FAST_MALLOC) $(PY) benchmarks/bench_data.py
	$(PY) benchmarks/bench_pairs.py
	$(FAST_MALLOC) $(PY) benchmarks/bench_train.py --threads 1
	$(FAST_MALLOC) $(PY) benchmarks/bench_metrics.py --scale 0.1
	$(PY) benchmarks/bench_gbt.py --sizes 1000
	$(FAST_MALLOC) $(PY) benchmarks/bench_study.py
	$(FAST_MALLOC) $(PY) benchmarks/bench_plan.py

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) $(OUT) build *.egg-info src/*.egg-info
