# The two commands README.md shows. Each installs what is missing, builds, runs.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
CTEST_ARGS ?=

.PHONY: demo test deps build build-asan fuzz format realclient e2e e2e-xen420

deps:
	./cmake/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j $(JOBS)

# The sanitizer build uses clang-19, which also builds the libFuzzer targets.
build-asan:
	./cmake/install-deps.sh --sanitizer
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DXEN9P_SANITIZE=ON \
	    -DXEN9P_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++-19 -DCMAKE_C_COMPILER=clang-19
	cmake --build $(ASAN_BUILD) -j $(JOBS)

demo: build
	$(BUILD)/tests/demo/xen9p-demo

# Every unit, integration and fuzz test under ASan+UBSan (with the bounded fuzz
# runs), then the normal build's tests together with real Xen end to end (label
# e2e: Xen 4.17 under QEMU, Linux domUs mounting from xen9pd; about 10 minutes),
# the Debian 13 package build with its unit tests (label debian13, in a trixie
# root kept in $(BUILD)/debian13) and real Xen 4.20 booted from that root with
# the package installed (label xen420, about 7 minutes); the last summary line
# is the normal build's whole suite. The Linux-client harness and the QEMU
# reference have their own targets below.
ASAN_SKIP := realclient|e2e|qemuref|debian13|xen420
TEST_SKIP := realclient|qemuref
test: build-asan build
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS) -LE '$(ASAN_SKIP)' $(CTEST_ARGS)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) -LE '$(TEST_SKIP)' $(CTEST_ARGS)

# The Linux kernel's 9p client in a QEMU guest, and diod's tools (tests/realclient).
realclient: build
	cd $(BUILD) && ctest --output-on-failure -L realclient $(CTEST_ARGS)

# Real Xen 4.17 under QEMU with Linux domUs mounting over trans=xen (tests/e2e).
e2e: build
	cd $(BUILD) && ctest --output-on-failure -L '^e2e$$' $(CTEST_ARGS)

# Real Xen 4.20 (Debian 13) under QEMU: the trixie root and package
# (label debian13) first, then libxl's type=xen_9pfsd with xen9pd diverted
# in, and a dm_restrict HVM guest (tests/e2e/README.md). About 10 minutes.
e2e-xen420: build
	cd $(BUILD) && ctest --output-on-failure -L 'debian13|xen420' $(CTEST_ARGS)

# Longer fuzzing for people: FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 600
fuzz: build-asan
	cd $(ASAN_BUILD) && XEN9P_FUZZ_SECONDS=$(FUZZ_SECONDS) ctest --output-on-failure -L fuzz

format:
	git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

# The benchmark suite (bench/): xen9pd against diod and direct syscalls, a few
# minutes; `make bench BENCH_ARGS=--quick` takes under one. Results in $(BUILD)/bench-results.
BENCH_ARGS ?=
.PHONY: bench
bench: build
	./bench/run.sh --build-dir $(BUILD) $(BENCH_ARGS)

# xen9pd against QEMU's Xen 9pfs backend from one guest on real Xen 4.17 under
# QEMU (bench/xen, the e2e harness's bench scenario): ratios only, about 10
# minutes. Results in $(BUILD)/bench-xen-results.
BENCH_XEN_ARGS ?=
.PHONY: bench-xen
bench-xen: build
	tests/e2e/run.sh --backend xen9pd --xen9pd $(BUILD)/backend/daemon/xen9pd --scenario bench \
	    --work $(BUILD)/e2e --bench-out $(BUILD)/bench-xen-results $(BENCH_XEN_ARGS)
