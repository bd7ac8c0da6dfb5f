# Benchmarks against the incumbents (benches/run.py says what is measured).
# Included by the top-level Makefile. Figures only: nothing here fails on a
# slow machine, and none of it runs in `make test`.
#
#   make bench            the full run; table on stdout, JSON in build/bench.json
#   make bench BENCH_QUICK=1   fewer repetitions and 100 clients only

BENCH_JSON := $(BUILD_DIR)/bench.json

.PHONY: bench
# The in-memory pass runs a second time with uwebsocket as the x64 .mpy on
# the firmware without the module (tools/natmod.mk), against the module
# built in.
bench: deps-test firmware natmod firmware-plain
	$(PYTHON) $(ROOT)/benches/run.py $(FIRMWARE) $(BENCH_JSON) $(if $(BENCH_QUICK),--quick) \
		--natmod $(PLAIN_FIRMWARE) $(NATMOD_DIR)/x64
