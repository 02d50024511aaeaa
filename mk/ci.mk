# CI workflows in .github/workflows (lint-test on every pull request, release on a tag) and
# their checker: actionlint, which runs shellcheck on every `run:` block. See
# docs/distribution.md, "CI workflows".
SETUP_DEPS += ci-tools

.PHONY: ci-tools workflow-lint
ci-tools: ## Build actionlint into bin/ (Go module proxy), install Debian's shellcheck when missing
	@hack/ci/tools.sh

workflow-lint: ci-tools ## actionlint with shellcheck on every workflow in .github/workflows
	@bin/actionlint -shellcheck="$$(command -v shellcheck)" .github/workflows/*.yml

# The distribution suite checks the workflows with actionlint (tests/dist/test_workflows.py).
dist-test: ci-tools

# The render suite lints the chart's in-pod programs (files/programs/*.sh) with shellcheck.
.PHONY: shellcheck
shellcheck: ## Install Debian's shellcheck when missing (tests/unit/test_programs.py lints files/programs/ with it)
	@hack/ci/tools.sh shellcheck

unit: shellcheck
