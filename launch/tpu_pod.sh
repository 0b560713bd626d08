#!/usr/bin/env bash
# Pre-train on a Cloud TPU VM pod slice: the same command on every worker (gcloud --worker=all);
# jax.distributed.initialize() detects the TPU topology by itself.
#
#   launch/tpu_pod.sh --tpu NAME --zone ZONE [--project P] [--setup] [--dry-run] -- PRETRAIN_FLAGS...
#   e.g. launch/tpu_pod.sh --tpu nuner-v4-8 --zone us-central2-b --setup -- \
#          --config=configs/pretrain.py:roberta-base --config.data.dir=/mnt/shared/shards --workdir=/mnt/shared/run
set -euo pipefail
TPU="" ZONE="" PROJECT="" SETUP=0 DRY=0 REPO_DIR="${REPO_DIR:-nuner-jax}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --tpu) TPU="$2"; shift 2 ;;
    --zone) ZONE="$2"; shift 2 ;;
    --project) PROJECT="$2"; shift 2 ;;
    --setup) SETUP=1; shift ;;
    --dry-run) DRY=1; shift ;;
    --) shift; break ;;
    *) echo "tpu_pod.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -n "$TPU" && -n "$ZONE" ]] || { echo "tpu_pod.sh: --tpu and --zone are required" >&2; exit 2; }
PROJECT_FLAG=()
[[ -n "$PROJECT" ]] && PROJECT_FLAG=(--project "$PROJECT")
TRAIN="cd $REPO_DIR && python -m nuner_jax.cli pretrain $(printf '%q ' "$@")"
INSTALL="cd $REPO_DIR && pip install -e . && pip install 'jax[tpu]==0.10.*'"
run() {
  if [[ $DRY -eq 1 ]]; then printf '%q ' "$@"; echo; else "$@"; fi
}
if [[ $SETUP -eq 1 ]]; then
  run gcloud compute tpus tpu-vm ssh "$TPU" --zone "$ZONE" "${PROJECT_FLAG[@]}" --worker=all --command "$INSTALL"
fi
run gcloud compute tpus tpu-vm ssh "$TPU" --zone "$ZONE" "${PROJECT_FLAG[@]}" --worker=all --command "$TRAIN"
