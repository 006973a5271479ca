#!/usr/bin/env bash
# Dependency bounds: run the fast unit tests against the lowest and against the latest versions that
# pyproject.toml allows, each in a venv of its own (.venv-bounds/lowest, .venv-bounds/latest), made with
# uv ("uv pip install --resolution lowest-direct" for the lowest). In each, vecvault is also built as a
# wheel (hatchling at its lowest or latest allowed), its metadata checked, installed, and `vecvault
# --help` and `vecvault demo --fake-embeddings` run from an empty directory.
# scripts/test.sh calls this; about a minute per venv with a warm uv cache.
#   VECVAULT_VENV          the project venv that holds uv (default: .venv)
#   VECVAULT_BOUNDS_DIR    where the two venvs go (default: .venv-bounds)
#   VECVAULT_BOUNDS        which runs (default: "lowest latest"; empty: none)
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${VECVAULT_VENV:-.venv}"
python="$venv/bin/python"
work="$(realpath -m "${VECVAULT_BOUNDS_DIR:-.venv-bounds}")"  # absolute: check_wheel runs from an empty dir
uv="$venv/bin/uv"
if [[ ! -x "$uv" ]]; then
    echo "bounds: installing uv into $venv (dependency group ci)"
    "$python" -m pip install --quiet --disable-pip-version-check --group ci
fi

tests=(tests/core/crypto/test_crypto.py tests/core/filters/test_filters.py tests/core/vault/test_vault.py tests/core/keys/test_keys.py tests/adapters/langchain
       tests/adapters/llama_index_adapter -m "not slow")
# At the lowest versions, leave out only the tests that compare vecvault with llama-index-core's own
# filter evaluator and SimpleVectorStore: vecvault follows the reference's current semantics (missing keys,
# text_match, NOT), which llama-index-core changed in 0.14.24, and build_metadata_filter_fn itself is
# newer than 0.13.0. vecvault's own LlamaIndex conformance, store, end-to-end and memory tests all run.
# Memory.from_defaults(chat_store=...) is newer than 0.13.0 too: the two tests that give a Memory the
# sealed chat store run at the latest versions only.
lowest_skips=(--ignore tests/adapters/llama_index_adapter/test_filters.py
              -k "not TestSimpleVectorStoreConformance and not agrees_with_llama_index_reference and not test_memory_keeps_short_and_long_term_in_one_vault_across_a_restart and not test_every_llama_index_store_is_sealed_at_rest")

check_wheel() {  # the wheel's metadata is what hatchling>=1.27 writes, and it runs from an empty dir
    local env="$1" wheel="$2" empty
    "$env/bin/python" - "$wheel" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel:
    names = set(wheel.namelist())
    meta = wheel.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
version = meta.split("Metadata-Version: ", 1)[1].split("\n", 1)[0]
major, minor = map(int, version.split("."))
assert (major, minor) >= (2, 4), f"Metadata-Version {version}: License-Expression needs 2.4 or later"
for field in ("License-Expression: Apache-2.0", "Project-URL: Source, https://github.com/vecvault/vecvault"):
    assert field in meta, field
for path in ("vecvault/_corpus/python_docs.jsonl", "vecvault/_corpus/LICENSE", "vecvault/py.typed",
             "langchain_vecvault/py.typed", "llama_index/vector_stores/vecvault/py.typed"):
    assert path in names, path
assert "llama_index/__init__.py" not in names and "llama_index/vector_stores/__init__.py" not in names
PY
    empty="$(mktemp -d)"
    (
        cd "$empty"
        "$env/bin/vecvault" --help >/dev/null
        VECVAULT_KEY="$("$env/bin/python" -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')" \
            "$env/bin/vecvault" demo --fake-embeddings --limit 20 | grep "PASS: nothing readable at rest" >/dev/null
    )
    rm -rf "$empty"
}

for run in ${VECVAULT_BOUNDS-lowest latest}; do
    case "$run" in
        lowest) resolution=lowest-direct; skips=("${lowest_skips[@]}") ;;
        latest) resolution=highest; skips=() ;;
        *) echo "bounds: unknown run $run (lowest or latest)" >&2; exit 2 ;;
    esac
    started=$SECONDS
    env="$work/$run"
    rm -rf "$env"
    mkdir -p "$work"
    "$uv" venv --quiet --python "$python" "$env"
    # uv's --resolution does not reach build requirements: pin the lowest run's to their lower bounds.
    "$python" - >"$env.build-constraints.txt" <<PY
import re, tomllib
requires = tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"]
if "$run" == "lowest":
    for req in requires:
        if m := re.match(r"\s*([A-Za-z0-9_.-]+)\s*>=\s*([0-9][0-9.]*)", req):
            print(f"{m[1]}=={m[2]}")
PY
    "$uv" build --quiet --wheel --build-constraints "$env.build-constraints.txt" --out-dir "$env/dist" .
    wheel="$(ls "$env"/dist/vecvault-*.whl)"
    VIRTUAL_ENV="$env" "$uv" pip install --quiet --resolution "$resolution" -r pyproject.toml --extra all --group test
    VIRTUAL_ENV="$env" "$uv" pip install --quiet --no-deps "$wheel"
    check_wheel "$env" "$wheel"
    versions="$(VIRTUAL_ENV="$env" "$uv" pip list 2>/dev/null \
        | awk '$1 ~ /^(cryptography|keyring|libsql|numpy|langchain-core|llama-index-core|langchain-tests|pytest|pytest-asyncio|hypothesis)$/ {printf "%s %s, ", $1, $2}')"
    echo "bounds: $run: ${versions%, }"
    log="$env/pytest.log"
    if ! PYTHONPATH="" "$env/bin/python" -m pytest -q -p no:cacheprovider "${tests[@]}" "${skips[@]}" >"$log" 2>&1; then
        tail -n 150 "$log" >&2
        echo "bounds: $run: the unit tests failed (rerun: VECVAULT_BOUNDS=$run bash scripts/test-bounds.sh)" >&2
        exit 1
    fi
    echo "bounds: $run: $(tail -n 1 "$log" | tr -d '=' | sed 's/^ *//;s/ *$//')"
    echo "bounds: $run: done in $((SECONDS - started)) s"
done
