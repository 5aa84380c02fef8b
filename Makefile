# SPDX-License-Identifier: MIT
# zonedev top-level driver: the README's two commands are `make demo` and `make check`.
# Both install missing build dependencies with apt when run as root.

JOBS      ?= $(shell nproc 2>/dev/null || echo 2)
PREFIX    ?= /usr/local
BUILD     := build
DEMO      ?= scenarios/demo.zds
APT_PKGS  := cmake gcc make pkg-config libcmocka-dev liburcu-dev

.PHONY: all deps build demo check check-normal check-asan check-tsan install bench clean

all: build

# deps: verify the build dependencies; install them if we are root, else say how.
deps:
	@missing=""; \
	for t in cmake gcc make pkg-config; do command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	if command -v pkg-config >/dev/null 2>&1; then \
	  pkg-config --exists cmocka || missing="$$missing libcmocka-dev"; \
	  pkg-config --exists liburcu-bp || missing="$$missing liburcu-dev"; \
	fi; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "zonedev: installing build dependencies:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PKGS) >/dev/null || exit 1; \
	  else \
	    echo "zonedev: missing build dependencies:$$missing"; \
	    echo "run: sudo apt-get install -y $(APT_PKGS)"; exit 1; \
	  fi; \
	fi

define cmake_build
	@cmake -S . -B $(1) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(2) >/dev/null
	@cmake --build $(1) -j $(JOBS) -- --no-print-directory
endef

build: deps
	$(call cmake_build,$(BUILD),)

demo: build
	@mkdir -p out
	./$(BUILD)/zonedev run --trace=out/demo-trace.json $(DEMO)
	@echo "trace: out/demo-trace.json (open it in https://ui.perfetto.dev or chrome://tracing)"
	@echo "text trace: ./$(BUILD)/zonedev run --trace-text $(DEMO)"

check-normal: deps
	$(call cmake_build,$(BUILD),)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

check-asan: deps
	$(call cmake_build,$(BUILD)-asan,-DZD_SANITIZE=address -DZD_BUILD_BENCH=OFF)
	cd $(BUILD)-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ctest --output-on-failure -j $(JOBS)

check-tsan: deps
	$(call cmake_build,$(BUILD)-tsan,-DZD_SANITIZE=thread -DZD_BUILD_BENCH=OFF)
	cd $(BUILD)-tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 ctest --output-on-failure -j $(JOBS)

# check: every test in the three builds, then one closing line.
check: check-normal check-asan check-tsan
	@echo "check: all three builds (normal, asan+ubsan, tsan) passed"

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

# bench: the benchmarks from an optimised tree with link-time inlining
# (build-bench/; the numbers of bench/RESULTS.md come from it).
bench: deps
	$(call cmake_build,$(BUILD)-bench,-DZD_LTO=ON -DBUILD_TESTING=OFF)
	@for b in $(BUILD)-bench/bench/bench-*; do echo "== $$b"; $$b || exit 1; done

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(BUILD)-tsan $(BUILD)-bench out
