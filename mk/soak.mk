# Soak of the teardown race (docs/fault-tolerance.md, "Success, then an abort at exit"): the
# pytorch image's 2-rank DDP check, or the example (SOAK_ARGS=--example), many times under CPU
# load, counting runs where every rank succeeded and the process still aborted. Not in `make test`.
SOAK_ARGS ?=

.PHONY: soak-teardown
soak-teardown: venv ## Run the 2-rank DDP check 200 times, 4 at once; fails on any abort after success (SOAK_ARGS="--runs N --jobs J --busy B --example")
	@.venv/bin/python hack/soak_teardown.py $(SOAK_ARGS)
