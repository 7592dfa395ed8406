#!/usr/bin/env bash
# Build or push the kit's images: the model server (model-server/Dockerfile) and the training
# image (pipelines/Dockerfile), and with MODEL_PATH a model-in-image server with that model inside.
#   scripts/images.sh build|push REGISTRY TAG        (make images / make push-images)
# IMAGES_DRY_RUN=1 prints the docker commands instead of running them.
set -euo pipefail
cd "${0%/*}/.."
action="$1" registry="$2" tag="$3"
model_image="${MODEL_IMAGE:-iris-server}"
docker() {
  if [[ -n "${IMAGES_DRY_RUN:-}" ]]; then echo "docker $*"; else command docker "$@"; fi
}

if [[ -n "${IMAGES_DRY_RUN:-}" ]]; then
  :
elif ! type -P docker >/dev/null; then
  echo "images: docker is not installed; build the images on a machine with Docker (or in CI)" >&2
  exit 1
elif ! command docker info >/dev/null 2>&1; then
  echo "images: no Docker engine answers (docker info failed); start one, or build on a machine that has one" >&2
  exit 1
fi

images=("$registry/model-server:$tag" "$registry/training-python:$tag")
[[ -n "${MODEL_PATH:-}" ]] && images+=("$registry/$model_image:$tag")
if [[ "$action" == push ]]; then
  for image in "${images[@]}"; do docker push "$image"; done
  exit 0
fi
docker build -f model-server/Dockerfile -t "${images[0]}" .
docker build -f pipelines/Dockerfile -t "${images[1]}" .
if [[ -n "${MODEL_PATH:-}" ]]; then
  docker build -f model-server/Dockerfile --build-arg "MODEL_PATH=$MODEL_PATH" -t "${images[2]}" .
fi
[[ -n "${IMAGES_DRY_RUN:-}" ]] || printf 'built %s\n' "${images[@]}"
