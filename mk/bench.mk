# ---- benchmarks: the pipeline's stages against raw DuckDB and pandas (benchmarks/README.md) -----
# make bench                   ~2 M épreuve rows (ten national sessions), results in benchmarks/results/
# make bench SCALE=20000000    the issue's national-scale target
# make bench BENCH_ARGS="--ref HEAD"   benchmark the last commit, not the working tree
# make bench-smoke             a quick run that fails if the three implementations disagree
SCALE ?= 2000000
BENCH_ARGS ?=

.PHONY: bench bench-smoke

bench: env-transform  ## benchmarks at national scale (SCALE=2000000 épreuve rows; up to ~20000000)
	cd $(ROOT) && $(VENV)/transform/bin/python benchmarks/bench.py --scale $(SCALE) $(BENCH_ARGS)

bench-smoke: env-transform  ## small benchmark run; non-zero exit if pipeline, raw DuckDB and pandas disagree
	cd $(ROOT) && $(VENV)/transform/bin/python benchmarks/bench.py --scale 20000 --smoke $(BENCH_ARGS)
