# wirebuf - the user's entry point. CMake does the building underneath.
#   make        build everything into build/ (CLI: build/wirebuf)
#   make deps   install missing Debian packages (as root)
#   make run    deps + build + the main job (convert the shipped sample)
#   make test   deps + build + all tests
#   make bench  the benchmarks (results go to bench/results.md, bench/results_pg.md,
#               bench/results_serve.md, bench/results_proxy.md)
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all build deps run test bench asan tsan fuzz clean

all: build

build:
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

deps:
	@./scripts/deps.sh
	@./scripts/node_deps.sh

run: deps build
	@./scripts/run.sh $(BUILD)/wirebuf

test: deps build
	@cd $(BUILD) && ctest --output-on-failure

asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DWB_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && ctest --output-on-failure

# ThreadSanitizer: its own build (clang), the PostgreSQL client's thread-safety tests
tsan: deps
	@cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DWB_TSAN=ON -DWB_PYTHON=OFF >/dev/null
	@cmake --build build-tsan -j $(JOBS) --target test_pg
	@cd build-tsan && ctest --output-on-failure -R '^test_pg_threads$$'

fuzz: deps
	@cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DWB_SANITIZE=ON -DWB_FUZZ=ON -DWB_PYTHON=OFF >/dev/null
	@cmake --build build-fuzz -j $(JOBS)
	@./scripts/fuzz.sh build-fuzz $(FUZZ_SECONDS)

bench: deps build
	@./bench/bench.sh $(BUILD)/wirebuf
	@./bench/bench_pg.sh $(BUILD)
	@./bench/bench_serve.sh $(BUILD)
	@./bench/bench_vector.sh $(BUILD)
	@./bench/bench_proxy.sh $(BUILD)

clean:
	rm -rf $(BUILD) build-asan build-tsan build-fuzz
