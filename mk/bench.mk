# Benchmark (docs/bench.md): time to all ranks Running, objects and API requests for this
# chart, Kubeflow PyTorchJob (training-operator) and Kubeflow Trainer v2 (TrainJob + JobSet),
# 8 to 1,024 ranks, on the embedded control plane. The peers are built only for `make bench`;
# `make test` runs the chart-only slice (tests/bench, markers bench + cluster).
BENCH_ARGS ?=

.PHONY: bench bench-tools bench-test bench-threads bench-profile
bench-tools: ## Build the peers for make bench (training-operator, Trainer v2, JobSet) into bin/
	@hack/bench/operators.sh

bench: tools venv cluster-bins bench-tools ## This chart vs PyTorchJob and TrainJob, 8-1,024 ranks: docs/bench.md table, docs/bench.png; then bench-threads
	@time .venv/bin/python hack/bench/run.py $(BENCH_ARGS)
	@$(MAKE) --no-print-directory bench-threads

bench-profile: tools venv cluster-bins bench-tools ## Where the API requests go, by verb and resource: chart Job/StatefulSet, TrainJob, bare Job at N=64,256 (docs/bench.md)
	@time .venv/bin/python hack/bench/run.py --profile $(BENCH_ARGS)

bench-threads: setup ## DDP steps/s of 2 ranks on the real node: the chart's threads default vs nothing set vs hand-set
	$(PYTEST) -m "node and bench" -s $(PYTEST_ARGS)

bench-test: tools venv cluster-bins ## Run only the benchmark slice and the render-cost tests (pytest -m bench)
	$(PYTEST) -m "bench and not node" $(PYTEST_ARGS)
