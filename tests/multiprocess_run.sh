#!/usr/bin/env bash
# Used by test_multiprocess.py: one process of a CPU "cluster" (2 fake devices per process).
set -euo pipefail
export XLA_FLAGS="--xla_force_host_platform_device_count=${DEVICES:-2}"
exec python -m nuner_jax.cli pretrain "$@"
