# Shipping the chart: chart repository, OCI registry, provenance, chart-testing,
# README parameter tables generated from values.yaml, Artifact Hub metadata.
# See docs/distribution.md.
SETUP_DEPS += dist-tools

DIST_DIR ?= dist
# Optional: sign the package with a GnuPG key (name or email) from a legacy keyring file.
SIGN_KEY ?=
KEYRING ?=
# Optional: absolute URL the chart repository will be served from (index.yaml urls).
REPO_URL ?=
# Optional: an index.yaml whose entries (other versions) the new index keeps (the release workflow).
MERGE_INDEX ?=

.PHONY: dist-tools repo ct-lint readme dist-test
dist-tools: ## Build the OCI registry and chart-testing into bin/, install readme-generator (npm)
	@hack/dist/tools.sh

repo: tools ## Package the chart and build a chart repository (index.yaml) in dist/
	@DIST_DIR="$(DIST_DIR)" SIGN_KEY="$(SIGN_KEY)" KEYRING="$(KEYRING)" REPO_URL="$(REPO_URL)" MERGE_INDEX="$(MERGE_INDEX)" hack/dist/repo.sh

ct-lint: tools venv dist-tools ## chart-testing lint (yamllint, yamale, helm lint --strict on every ci/*-values.yaml)
	@PATH="$(ROOT)/.venv/bin:$$PATH" hack/dist/ct-lint.sh

readme: dist-tools ## Regenerate README.md's Parameters section from values.yaml
	@bin/readme-generator --values values.yaml --readme README.md >/dev/null

dist-test: tools venv dist-tools ## Run only the distribution tests (repository, OCI, provenance, ct, docs)
	$(PYTEST) -m dist $(PYTEST_ARGS)
