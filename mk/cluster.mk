# Embedded Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kwok), built from source out of the Go module proxy and run on
# loopback in a network namespace of its own. See docs/cluster.md.
# The real node (kubelet, containerd, CNI plugins, CoreDNS) is built the same way; runc
# comes from Debian's package. See docs/node.md.
SETUP_DEPS += cluster-bins node-deps
# The real node's NetworkPolicy agent (kube-router's firewall), its iptables and ipset, and
# kube-proxy for the node's Service IPs. See docs/network-policy.md.
SETUP_DEPS += node-firewall

.PHONY: cluster-bins node-deps node-firewall cluster-up cluster-down cluster-test node-test enforce-test demo demo-down
cluster-bins: ## Build the control plane (etcd, kube-*, kubectl, kwok) and the real node (kubelet, containerd, CNI, CoreDNS) into bin/
	@hack/cluster/build.sh

node-deps: ## Install Debian's runc (the real node's OCI runtime) when it is missing
	@command -v runc >/dev/null || { echo ">> apt-get install runc" >&2; \
	  apt-get install -y -qq runc >/dev/null || { apt-get update -qq && apt-get install -y -qq runc >/dev/null; }; }

node-firewall: ## Build kube-router (NetworkPolicy) and kube-proxy into bin/, install Debian's iptables and ipset when missing
	@command -v iptables >/dev/null && command -v ipset >/dev/null || { echo ">> apt-get install iptables ipset" >&2; \
	  apt-get install -y -qq iptables ipset >/dev/null || { apt-get update -qq && apt-get install -y -qq iptables ipset >/dev/null; }; }
	@hack/cluster/build.sh kube-router kube-proxy

cluster-up: cluster-bins ## Start the control plane "default" and print its kubeconfig
	@hack/cluster/up.sh default

cluster-down: ## Stop the control plane "default"
	@hack/cluster/down.sh default

cluster-test: tools venv cluster-bins ## Run only the tests against the embedded control plane
	$(PYTEST) -m cluster $(PYTEST_ARGS)

node-test: setup ## Run only the tests on the real node
	$(PYTEST) -m "node and not bench and not enforce_matrix and not slow" $(PYTEST_ARGS)

enforce-test: setup ## Train under the enforced NetworkPolicy with every launcher and value set (minutes each)
	$(PYTEST) -m "node and enforce_matrix" $(PYTEST_ARGS)

demo: tools venv cluster-bins node-deps node-firewall dist-tools images ## Start the control plane and a real node, train with worldSize 4, print the ranks and their losses
	@hack/cluster/demo.sh

demo-down: ## Stop the demo control plane started by `make demo`
	@hack/cluster/down.sh demo
