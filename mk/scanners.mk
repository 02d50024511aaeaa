# Scanners that nobody here wrote (kube-score, kubeconform, checkov), run by tests/scan on the
# default render and on every ci/*-values.yaml; findings fail the tests unless
# hack/scanners/waivers.yaml waives them with a reason. See README.md, "Security".
SETUP_DEPS += scanners

.PHONY: scanners scan-test
scanners: ## Build kube-score and kubeconform into bin/, install checkov into .cache/checkov-venv
	@hack/scanners/tools.sh

scan-test: tools venv scanners ## Run only the scanner tests (kube-score, kubeconform, checkov on every scenario)
	$(PYTEST) -m scan $(PYTEST_ARGS)
