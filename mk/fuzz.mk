# Schema fuzzing with the API server as the oracle (tests/fuzz, docs/fuzz.md): values documents
# generated from values.schema.json, rendered by bin/helm, dry-run on a control plane of its own.
# The documents depend on the seed and the count only (and on the schema they are drawn from).
FUZZ_COUNT ?= 1000
FUZZ_SEED ?= 20261130

.PHONY: fuzz
fuzz: tools venv cluster-bins ## Fuzz the values schema: FUZZ_COUNT documents (1000) from FUZZ_SEED, 0 escapes expected
	cd tests && ../.venv/bin/python -m fuzz.run --count $(FUZZ_COUNT) --seed $(FUZZ_SEED)
