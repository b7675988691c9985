# cellgate — the two commands a new user needs: `make demo` and `make test`.
# Each one installs missing Debian packages (scripts/setup-deps), configures, builds and runs.
#
#   make demo      run the cell on loopback with synthetic traffic and print what happened
#                  (`cellgate-lab demo`: the lab's binary, not the product's)
#   make test      build with ASan+UBSan and run every test (what CI runs)
#   make bench     release build, `cellgate-lab bench`, then the module benchmarks; bench/out/*.json
#   make fuzz      short run of every fuzz target (FUZZ_SECONDS each, default 60)
#   make format    apply .clang-format to the sources
#   make clean     remove build directories

CC  := clang
CXX := clang++
export CC CXX

JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 60
RELEASE_DIR := build/release
ASAN_DIR    := build/asan
FUZZ_DIR    := build/fuzz
CMAKE_GEN   := -G Ninja
# ccache, when the machine has it, makes a second clone or a rebuild compile only what changed
# (paths are taken relative to the clone, so clones share the cache).
CCACHE      := $(shell command -v ccache 2>/dev/null)
ifneq ($(CCACHE),)
CMAKE_GEN   += -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_NOHASHDIR := 1
endif

.PHONY: all deps demo test bench fuzz format clean release asan fuzz-build

all: release

deps:
	@scripts/setup-deps

$(RELEASE_DIR)/build.ninja: | deps
	cmake -S . -B $(RELEASE_DIR) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCG_TESTS=OFF \
	  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -gline-tables-only -DNDEBUG"

$(ASAN_DIR)/build.ninja: | deps
	cmake -S . -B $(ASAN_DIR) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DCG_SANITIZE=ON \
	  -DCG_BENCH=OFF -DCMAKE_CXX_FLAGS="-O1 -g"

$(FUZZ_DIR)/build.ninja: | deps
	cmake -S . -B $(FUZZ_DIR) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DCG_FUZZ=ON \
	  -DCG_TESTS=ON -DCMAKE_CXX_FLAGS="-O1 -g"

release: deps $(RELEASE_DIR)/build.ninja
	cmake --build $(RELEASE_DIR) -j $(JOBS)

asan: deps $(ASAN_DIR)/build.ninja
	cmake --build $(ASAN_DIR) -j $(JOBS)

demo: deps $(RELEASE_DIR)/build.ninja
	cmake --build $(RELEASE_DIR) -j $(JOBS) --target cellgate cellgate-lab
	$(RELEASE_DIR)/bench/lab/cellgate-lab demo

test: asan
	cd $(ASAN_DIR) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j $(JOBS) --timeout 900

# `cellgate-lab bench` is the operator's benchmark (stages, baselines, the whole cell, goals as
# ratios within one run); the per-module Google Benchmark programs follow, for developers.
bench: release
	@mkdir -p bench/out
	$(RELEASE_DIR)/bench/lab/cellgate-lab bench --json bench/out/cellgate-bench.json
	@for b in $(RELEASE_DIR)/bench/*_bench; do \
	  echo "== $$b"; \
	  $$b --benchmark_out=bench/out/$$(basename $$b).json --benchmark_out_format=json || exit 1; \
	done

fuzz-build: deps $(FUZZ_DIR)/build.ninja
	cmake --build $(FUZZ_DIR) -j $(JOBS)

fuzz: fuzz-build
	@for f in $(FUZZ_DIR)/tests/fuzz/fuzz_*; do \
	  name=$$(basename $$f | sed 's/^fuzz_//'); \
	  mkdir -p build/fuzz-corpus/$$name; \
	  echo "== $$name for $(FUZZ_SECONDS)s"; \
	  dict=; [ -f tests/fuzz/$$name.dict ] && dict=-dict=tests/fuzz/$$name.dict; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $$dict \
	    build/fuzz-corpus/$$name tests/fuzz/corpus/$$name || exit 1; \
	done

format:
	find crypto gateway tests bench -name '*.cc' -o -name '*.h' | xargs clang-format -i

clean:
	rm -rf build
