# mgc — the two commands: `make run` and `make test`.
#
#   make            build (release) into build/
#   make run        build, then run the main job: examples/mgc-demo with
#                   GODEBUG=gctrace=1 (binary trees of depth 18, a
#                   long-lived cache under churn and a word index built with
#                   the self-freeing containers, then a summary)
#   make test       build, then every test through ctest: the release build,
#                   then the same suite under AddressSanitizer + UBSan,
#                   then the tests that can run under ThreadSanitizer
#   make test-release / make test-asan / make test-tsan   one of the three
#   make bench      the benchmark suite (bench/README.md); QUICK=1 for a short run
#   make install    PREFIX=/usr/local by default

BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
PREFIX     ?= /usr/local
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE      ?= cmake
CTEST      ?= ctest

.PHONY: all build build-asan build-tsan run test test-release test-asan test-tsan bench install clean

all: build

build:
	@command -v $(CMAKE) >/dev/null || { echo "make: cmake is required (apt-get install -y cmake)"; exit 1; }
	$(CMAKE) -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	$(CMAKE) --build $(BUILD) -j $(JOBS)

build-asan:
	$(CMAKE) -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMGC_SANITIZE=ON \
	  -DMGC_BUILD_BENCH=OFF -DMGC_BUILD_EXAMPLES=OFF >/dev/null
	$(CMAKE) --build $(ASAN_BUILD) -j $(JOBS)

build-tsan:
	$(CMAKE) -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMGC_TSAN=ON \
	  -DMGC_BUILD_BENCH=OFF -DMGC_BUILD_EXAMPLES=OFF >/dev/null
	$(CMAKE) --build $(TSAN_BUILD) -j $(JOBS)

run: build
	GODEBUG=gctrace=1 $(BUILD)/examples/mgc-demo

test: test-release test-asan test-tsan

test-release: build
	cd $(BUILD) && $(CTEST) --output-on-failure -j $(JOBS)

test-asan: build-asan
	cd $(ASAN_BUILD) && $(CTEST) --output-on-failure -j $(JOBS)

test-tsan: build-tsan
	cd $(TSAN_BUILD) && $(CTEST) --output-on-failure -j $(JOBS)

bench: build
	QUICK=$(QUICK) BUILD=$(BUILD) sh bench/run.sh

install: build
	$(CMAKE) --install $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD)
