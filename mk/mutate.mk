# Mutation check (docs/mutation.md): each mutant of hack/mutants.yaml, one realistic mistake in a
# template, values.yaml or values.schema.json, is applied to a temporary copy of the repository and
# the render suite (tests/unit) must fail. The working tree is never changed.
# MUTATE_ARGS: --only ID..., --quick (own test modules only), --check-equivalent, --update-docs.
MUTATE_ARGS ?=

.PHONY: mutate mutate-check
mutate: tools venv ## Mutation check of the render suite (hack/mutants.yaml); fails under 95% killed (docs/mutation.md)
	@time .venv/bin/python hack/mutate.py $(MUTATE_ARGS)

mutate-check: venv ## Check that every mutant's original text occurs once in its file and every template has a mutant
	@.venv/bin/python hack/mutate.py --validate
