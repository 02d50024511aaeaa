# Container images for a node of our own (shell, git, pytorch, pause), built without Docker or a
# registry as OCI image layouts in .cache/images/<name>/. See docs/images.md.
SETUP_DEPS += images

# Optional: which images (default: shell git pytorch pause; pytorch-cuda on request).
IMAGES ?=
# Optional: 1 re-pins hack/images/debian.lock and requirements.lock to the mirrors' versions.
IMAGES_RELOCK ?=
# Where images-push sends them (plain HTTP, no auth), e.g. 127.0.0.1:5000.
REGISTRY ?=

.PHONY: images images-push
images: ## Build the node images (OCI layouts in .cache/images/, checked; stamps skip what is built)
	@IMAGES_RELOCK="$(IMAGES_RELOCK)" hack/images/build.sh $(IMAGES)

images-push: images ## Push the images to REGISTRY=host:port (only missing blobs; verified by GET)
	@test -n "$(REGISTRY)" || { echo "usage: make images-push REGISTRY=127.0.0.1:5000" >&2; exit 2; }
	@python3 hack/images/push.py "$(REGISTRY)" $(addprefix .cache/images/,$(IMAGES))
