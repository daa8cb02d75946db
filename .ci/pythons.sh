#!/usr/bin/env bash
# `make pythons`: check the declared Python versions (3.10–3.13). For each one found on this machine
# (`python3.X` on PATH, else pyenv's newest 3.X.* under $PYENV_ROOT), a venv under .venv/pythons/3.X
# installed from the lock — the server and the built-in algorithms, pytest, the AWS CLI and the SageMaker
# SDK, never torch (this machine's CPU wheel is cp311 only; any other torch pulls a CUDA build) — then
# the smoke subset of the suite with that interpreter (the server it starts runs on it too). Prints a
# summary; exits 1 when a version's install or tests fail. Not part of `make test` or CI (.ci/run).
#   PYTHONS_VERSIONS="3.10 3.13"   which versions (default: 3.10 3.11 3.12 3.13)
#   PYTHONS_TESTS="tests/hosting -m 'not slow'"   pytest's arguments (default: the smoke subset below)
set -uo pipefail
cd "$(dirname "$0")/.."
LOCK=requirements/constraints.txt
VERSIONS=${PYTHONS_VERSIONS:-3.10 3.11 3.12 3.13}
TESTS=${PYTHONS_TESTS:-tests/test_smoke.py tests/s3 tests/store tests/unit}
PYENV_ROOT=${PYENV_ROOT:-$HOME/.pyenv}
ROOT=.venv/pythons

# The interpreter for version $1, or nothing. A pyenv shim on PATH may not run (version not selected),
# so each candidate must run and report the version asked for.
find_python() {
    local candidate
    for candidate in "$(command -v "python$1" 2>/dev/null)" \
                     $(ls -d "$PYENV_ROOT/versions/$1".*/bin/python3 2>/dev/null | sort -V -r); do
        if [ -n "$candidate" ] && \
           [ "$("$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" = "$1" ]; then
            echo "$candidate"
            return
        fi
    done
}

summary=()
status=0
for version in $VERSIONS; do
    python=$(find_python "$version")
    if [ -z "$python" ]; then
        summary+=("$version  not found (no python$version on PATH, none under $PYENV_ROOT/versions)")
        continue
    fi
    venv=$ROOT/$version
    stamp=$venv/.installed
    log=$venv/pytest.log
    echo "== Python $version: $python -> $venv"
    # Reinstalled when the lock or pyproject.toml is newer than the stamp, as .venv is.
    if ! [ "$stamp" -nt "$LOCK" ] || ! [ "$stamp" -nt pyproject.toml ]; then
        rm -rf "$venv"
        if ! { "$python" -m venv "$venv" &&
               "$venv/bin/python" -m pip install --quiet --constraint "$LOCK" pip setuptools &&
               "$venv/bin/python" -m pip install --quiet --constraint "$LOCK" --no-build-isolation \
                   --editable ".[algorithms]" pytest pytest-timeout requests awscli sagemaker; }; then
            summary+=("$version  $("$python" -V 2>&1): INSTALL FAILED")
            status=1
            continue
        fi
        touch "$stamp"
    fi
    eval "args=($TESTS)"  # pytest's arguments, shell-quoted as on a command line
    SAGEMAKER_SUPPRESS_V2_WARNING=1 "$venv/bin/python" -m pytest -q -p no:cacheprovider "${args[@]}" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    result=$(grep -E '^=*.*[0-9]+ (passed|failed|error)' "$log" | tail -1 | tr -d '=' | sed 's/^ *//;s/ *$//')
    [ "$rc" = 0 ] || status=1
    summary+=("$version  $("$venv/bin/python" -V 2>&1): ${result:-pytest exited $rc} (log: $log)")
done

echo
echo "== make pythons: $TESTS"
printf '%s\n' "${summary[@]}"
exit $status
