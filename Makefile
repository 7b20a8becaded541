# Thin wrapper over CMake/CTest for the README's two commands.
#   make run    install deps, build, start `girder serve` on the embedded default config
#   make test   install deps, build (warnings are errors), run every test: the normal
#               build, then the ASan+UBSan build with libFuzzer drivers (clang)
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
CTEST_ARGS ?=
MAKEFLAGS  += --no-print-directory

.PHONY: all deps build run test test-normal test-asan bench clean format

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

run: build
	$(BUILD)/src/cli/girder serve

test: deps
	@scripts/test.sh all

test-normal: deps
	@scripts/test.sh normal

test-asan: deps
	@scripts/test.sh asan

bench: deps
	@scripts/install-deps.sh --bench
	@for b in bench/*.sh; do echo "== $$b"; $$b || exit 1; done

format:
	@find src include tests -name '*.[ch]' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
