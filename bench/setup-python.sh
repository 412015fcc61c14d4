#!/usr/bin/env bash
# Creates .venv-bench/ (gitignored) with the two reference frameworks `npm run bench` compares
# Descent against: TensorFlow/Keras from the same tensorflow-cpu wheel Descent's native backend
# is built from, and PyTorch on CPU.
#
#   bash bench/setup-python.sh            # both (about 3 GB download, 5 GB on disk)
#   SKIP_TORCH=1 bash bench/setup-python.sh
#
# Existing venvs work too: BENCH_PYTHON=/path/to/python (one venv with both), or
# BENCH_PYTHON_KERAS and BENCH_PYTHON_TORCH when they differ.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${BENCH_VENV:-$root/.venv-bench}"
tf_version="${DESCENT_TF_VERSION:-2.18.0}"
torch_version="${BENCH_TORCH_VERSION:-2.15.0}"
cache="${DESCENT_TF_CACHE:-$HOME/.cache/descent/tfjs-native}"

python3 -m venv "$venv"
pip="$venv/bin/pip"
"$pip" install --upgrade pip

# The wheel scripts/install-native.mjs already downloaded, when there is one: the same bits.
wheel="${DESCENT_TF_WHEEL:-$(ls "$cache"/wheels/tensorflow_cpu-"$tf_version"-*.whl 2>/dev/null | head -n1 || true)}"
if [[ -n "$wheel" && -f "$wheel" ]]; then
  "$pip" install "$wheel"
else
  "$pip" install "tensorflow-cpu==$tf_version"
fi

if [[ -z "${SKIP_TORCH:-}" ]]; then
  # PyPI's Linux torch wheel is a CUDA build: `import torch` fails without the NVIDIA runtime
  # libraries even on a machine with no GPU. Where download.pytorch.org is reachable the CPU
  # wheel is far smaller (BENCH_TORCH_CPU_INDEX=1). Otherwise: torch without its dependencies,
  # then only the pure-Python ones and the NVIDIA wheels that hold the libraries it links
  # (no triton, cuda-bindings, cusolver or nvtx), as in scripts/reference/README.md.
  if [[ -n "${BENCH_TORCH_CPU_INDEX:-}" ]]; then
    "$pip" install "torch==$torch_version" --index-url https://download.pytorch.org/whl/cpu
  else
    "$pip" install --no-deps "torch==$torch_version"
    "$pip" install filelock "typing-extensions>=4.13" "setuptools>=77.0.3" "sympy>=1.13.3" "networkx>=2.5.1" jinja2 "fsspec>=0.8.5"
    "$pip" install "cuda-toolkit[cublas,cudart,cufft,cufile,cupti,cusparse,nvjitlink,nvrtc]==13.2.2" \
      nvidia-cudnn-cu13==9.26.0.51 nvidia-cusparselt-cu13==0.8.1 nvidia-nccl-cu13==2.30.7 nvidia-nvshmem-cu13==3.7.2
  fi
fi

"$venv/bin/python" - <<'PY'
import os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf, keras
print("tensorflow", tf.__version__, "keras", keras.__version__)
try:
    import torch
    print("torch", torch.__version__, torch.zeros(2) + 1)
except ImportError:
    print("torch not installed")
PY
echo "ready: npm run bench uses $venv/bin/python (or set BENCH_PYTHON)"
