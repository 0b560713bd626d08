#!/usr/bin/env bash
# Render launch/jobset.yaml and apply it:  launch/k8s.sh --name N --image IMG [--hosts H] [--gpus G] [--dry-run] -- FLAGS...
set -euo pipefail
NAME="nuner-pretrain" IMAGE="" HOSTS=2 GPUS=8 DRY=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --name) NAME="$2"; shift 2 ;;
    --image) IMAGE="$2"; shift 2 ;;
    --hosts) HOSTS="$2"; shift 2 ;;
    --gpus) GPUS="$2"; shift 2 ;;
    --dry-run) DRY=1; shift ;;
    --) shift; break ;;
    *) echo "k8s.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -n "$IMAGE" ]] || { echo "k8s.sh: --image is required" >&2; exit 2; }
ARGS="[$(for a in "$@"; do printf '"%s", ' "$a"; done | sed 's/, $//')]"
MANIFEST="$(sed -e "s|\${NAME}|$NAME|g" -e "s|\${IMAGE}|$IMAGE|g" -e "s|\${HOSTS}|$HOSTS|g" \
                -e "s|\${GPUS}|$GPUS|g" -e "s|\${ARGS}|$ARGS|g" "$(dirname "$0")/jobset.yaml")"
if [[ $DRY -eq 1 ]]; then echo "$MANIFEST"; echo "# kubectl apply -f -"; else echo "$MANIFEST" | kubectl apply -f -; fi
