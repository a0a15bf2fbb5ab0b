# ---- benchmarks: the nightly pipeline against hand-written references (benchmarks/README.md) ----
# make bench                                  ~2 M épreuve rows, results in benchmarks/results/
# make bench SCALE=20000000                   national scale (~30 min)
# make bench BENCH_ARGS="--ref <commit>"      the pipeline code of a commit, not the working tree
# make bench-smoke                            ~20 k rows; non-zero exit if the contenders disagree
# make bench-table                            the committed results as a markdown table
SCALE ?= 2000000
BENCH_ARGS ?=

.PHONY: bench bench-smoke bench-table

bench: env-transform  ## benchmark at national scale (SCALE=2000000 épreuve rows; up to 20000000)
	cd $(ROOT) && $(VENV)/transform/bin/python benchmarks/bench.py --scale $(SCALE) $(BENCH_ARGS)

bench-smoke: env-transform  ## small benchmark run; non-zero exit if the pipeline and the references disagree
	cd $(ROOT) && $(VENV)/transform/bin/python benchmarks/bench.py --smoke $(BENCH_ARGS)

bench-table: env-transform  ## print the committed benchmark results as a markdown table
	cd $(ROOT) && $(VENV)/transform/bin/python benchmarks/bench.py --markdown benchmarks/results/*.json
