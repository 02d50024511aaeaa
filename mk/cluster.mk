# Embedded Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kwok), built from source out of the Go module proxy and run on
# loopback in a network namespace of its own. See docs/cluster.md.
SETUP_DEPS += cluster-bins

.PHONY: cluster-bins cluster-up cluster-down cluster-test demo demo-down
cluster-bins: ## Build etcd, kube-apiserver, -controller-manager, -scheduler, kubectl and kwok into bin/
	@hack/cluster/build.sh

cluster-up: cluster-bins ## Start the control plane "default" and print its kubeconfig
	@hack/cluster/up.sh default

cluster-down: ## Stop the control plane "default"
	@hack/cluster/down.sh default

cluster-test: tools venv cluster-bins ## Run only the tests against the embedded control plane
	$(PYTEST) -m cluster $(PYTEST_ARGS)

demo: tools cluster-bins ## Start the control plane, install the chart (distributed, worldSize 4), print the ranks
	@hack/cluster/demo.sh

demo-down: ## Stop the demo control plane started by `make demo`
	@hack/cluster/down.sh demo
