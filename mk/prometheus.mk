# A real Prometheus for the metrics test on the real node (tests/node/test_metrics.py), and the
# Prometheus Operator's PodMonitor CRD for the render and control-plane suites. See docs/metrics.md.
SETUP_DEPS += prometheus

.PHONY: prometheus
prometheus: ## Build bin/prometheus (Kubernetes discovery only) and download the Prometheus Operator module (its PodMonitor CRD)
	@hack/prometheus/build.sh
