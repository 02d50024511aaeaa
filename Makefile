# Two commands for a new user (see README):
#   make demo   - the main job: build what is missing, start the embedded control plane, install the chart
#   make test   - set up everything and run every test
SHELL := /bin/bash
.DEFAULT_GOAL := help
ROOT := $(CURDIR)
include hack/versions.env
export PATH := $(ROOT)/bin:$(PATH)

PYTEST ?= .venv/bin/python -m pytest
PYTEST_ARGS ?=
# Component makefiles add their own set-up steps to SETUP_DEPS.
SETUP_DEPS := tools venv
-include mk/*.mk

.PHONY: help setup tools venv test unit sweep lint schema
help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

setup: $(SETUP_DEPS) ## Build and install everything the tests need (idempotent)

tools: ## Build pinned helm (v4) and helm3 into bin/ from the Go module proxy
	@hack/go-tool.sh helm helm.sh/helm/v4/cmd/helm $(HELM4_VERSION) \
	  "-X helm.sh/helm/v4/internal/version.version=$(HELM4_VERSION)"
	@hack/go-tool.sh helm3 helm.sh/helm/v3/cmd/helm $(HELM3_VERSION) \
	  "-X helm.sh/helm/v3/internal/version.version=$(HELM3_VERSION) \
	   -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$(HELM3_K8S_MINOR) \
	   -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$(HELM3_K8S_MINOR)"

venv: ## Create .venv with the test dependencies from pyproject.toml
	@hack/venv.sh

# Two workers; each slow suite (cluster, runtime, dist) stays on one worker (tests/conftest.py).
XDIST ?= -n 2 --dist loadgroup

# The real-node suite runs on its own after the others, in one process: its containers
# need the CPU, and its one cluster must not be started from two workers.
test: setup ## Set up, then run every test (unit, scan, dist, cluster, runtime, then node)
	$(PYTEST) $(XDIST) -m "not node" $(PYTEST_ARGS)
	$(PYTEST) -m "node and not bench and not enforce_matrix and not slow" $(PYTEST_ARGS)

unit: tools venv ## Run only the render/unit tests (without the null/empty sweeps: make sweep)
	$(PYTEST) $(XDIST) -m "not cluster and not runtime and not dist and not node and not scan and not sweep" $(PYTEST_ARGS)

sweep: tools venv ## Render every key of values.yaml set to null or empty (docs/values-compat.md)
	$(PYTEST) $(XDIST) -m sweep $(PYTEST_ARGS)

lint: tools ## helm lint --strict for the defaults and every ci/*-values.yaml
	helm lint --strict .
	@for f in ci/*-values.yaml; do echo "== $$f"; helm lint --strict . -f $$f || exit 1; done

schema: venv ## Write values.yaml's @param descriptions and defaults into values.schema.json
	@.venv/bin/python hack/values-schema.py

.PHONY: schema-defs
schema-defs: venv ## Write the pod spec's Kubernetes types (tolerations, affinity, volumes, env, ...) into values.schema.json's $defs (hack/k8s-defs.py)
	@.venv/bin/python hack/k8s-defs.py
