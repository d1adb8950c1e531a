# Convenience wrapper around CMake; the real build is CMakeLists.txt.
BUILD ?= build
JOBS  ?= $(shell nproc)

.PHONY: all build test bench demo format clean

all: build

build:
	cmake -S . -B $(BUILD) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

test:
	./scripts/test.sh

bench: build
	./bench/run.sh $(BUILD)

demo: build
	./scripts/run-demo.sh --no-install

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-tsan
