# Benchmarks against the incumbents (benches/run.py says what is measured).
# Included by the top-level Makefile. Figures only: nothing here fails on a
# slow machine, and none of it runs in `make test`.
#
#   make bench            the full run; table on stdout, JSON in build/bench.json
#   make bench BENCH_QUICK=1   fewer repetitions and 100 clients only

BENCH_JSON := $(BUILD_DIR)/bench.json

.PHONY: bench
bench: deps-test firmware
	$(PYTHON) $(ROOT)/benches/run.py $(FIRMWARE) $(BENCH_JSON) $(if $(BENCH_QUICK),--quick)
