# plume — the main job is `make demo`, the tests are `make test`.
CARGO ?= cargo
TOOLS := verilator iverilog yosys

.PHONY: demo test deps lint bench verilog synth vivado clean

# Verilator, Icarus Verilog and Yosys from Debian's packages when any is missing.
deps:
	@missing=""; for t in $(TOOLS); do command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq verilator iverilog yosys >/dev/null; \
	fi
	@for t in $(TOOLS); do command -v $$t >/dev/null 2>&1 || { echo "make deps: $$t is still missing"; exit 1; }; done

demo:
	$(CARGO) run -q -- demo

test: deps
	$(CARGO) test --workspace

lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) test --test birrd emitted_verilog_is_lint_clean_and_compiles_in_icarus
	$(CARGO) test --test cli gen_feather_is_lint_clean

bench: deps
	$(CARGO) run -q --release -- bench sim
	$(CARGO) run -q --release -- bench route
	$(CARGO) run -q --release -- bench feather

verilog:
	$(CARGO) run -q -- gen birrd --ports 16 -o out/verilog/birrd16
	$(CARGO) run -q -- gen feather --array 16x16 -o out/verilog/feather16x16

synth: deps
	$(CARGO) run -q -- synth birrd --ports 16 --width 32
	$(CARGO) run -q --release -- synth feather --array 8x8

vivado:
	@echo "The ZCU104 Vivado flow (plume fpga zcu104) is issue 5; not built yet."; exit 1

clean:
	$(CARGO) clean
	rm -rf out
