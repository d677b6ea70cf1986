# shellcheck shell=bash
# Sourced by test.sh and lint.sh: MYPY_TARGETS (every package under libs/*/src and
# services/*/src) and MYPYPATH (their src directories), so mypy names modules by package.
MYPY_TARGETS=()
mypy_path=()
for src in "$TICKTIDE_ROOT"/libs/*/src "$TICKTIDE_ROOT"/services/*/src; do
    [ -d "$src" ] || continue
    mypy_path+=("${src#"$TICKTIDE_ROOT"/}")
    for package in "$src"/*/; do
        [ -f "$package/__init__.py" ] && MYPY_TARGETS+=("${package%/}")
    done
done
MYPY_TARGETS=("${MYPY_TARGETS[@]#"$TICKTIDE_ROOT"/}")
MYPYPATH="$(IFS=:; echo "${mypy_path[*]}")"
export MYPYPATH
