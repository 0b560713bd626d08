#!/usr/bin/env bash
# Submit launch/slurm.sbatch with a node/GPU count:  launch/slurm.sh [--nodes N] [--gpus-per-node G] [--dry-run] -- FLAGS...
set -euo pipefail
NODES=1 GPUS=8 DRY=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --nodes) NODES="$2"; shift 2 ;;
    --gpus-per-node) GPUS="$2"; shift 2 ;;
    --dry-run) DRY=1; shift ;;
    --) shift; break ;;
    *) echo "slurm.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
CMD=(sbatch --nodes="$NODES" --gpus-per-node="$GPUS" --ntasks-per-node="$GPUS" "$(dirname "$0")/slurm.sbatch" "$@")
if [[ $DRY -eq 1 ]]; then printf '%q ' "${CMD[@]}"; echo; else "${CMD[@]}"; fi
