#!/usr/bin/env bash
# One host, all its accelerators: a single process drives every local device (data parallel, or FSDP
# with --config.mesh.fsdp=-1).   launch/single_host.sh [--gpus 0,1,2,3] [--dry-run] -- FLAGS...
set -euo pipefail
GPUS="" DRY=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --gpus) GPUS="$2"; shift 2 ;;
    --dry-run) DRY=1; shift ;;
    --) shift; break ;;
    *) echo "single_host.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
ENV=()
[[ -n "$GPUS" ]] && ENV=(env "CUDA_VISIBLE_DEVICES=$GPUS")
CMD=("${ENV[@]}" python -m nuner_jax.cli pretrain "$@")
if [[ $DRY -eq 1 ]]; then printf '%q ' "${CMD[@]}"; echo; else exec "${CMD[@]}"; fi
