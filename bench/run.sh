#!/bin/sh
# bench/run.sh — build and run the benchmark suite; `make bench` calls it.
#
#   sh bench/run.sh                full run (5 runs per system, ~8 minutes on 2 cores)
#   QUICK=1 sh bench/run.sh        each workload once, small sizes (CI)
#
# Environment:
#   BUILD           build directory (default: build, relative to the source tree)
#   QUICK           1 = quick mode
#   BENCH_DISABLE   comparators to leave out, e.g. "boehm go" (not installed,
#                   not built, not run)
#   BENCH_ONLY      workloads to run, e.g. "binary-trees,churn"
#   BENCH_SYSTEMS   systems to run, e.g. "mgc,go,glibc"
#   BENCH_RUNS      runs per system (default 5)
#   BENCH_NO_INSTALL=1   never call apt-get
#   BENCH_CMAKE_ARGS     extra cmake arguments, e.g.
#                        "-DCMAKE_IGNORE_PATH=/usr/include;/usr/lib/x86_64-linux-gnu"
#                        to act as if no comparator were installed
#
# Steps: configure (bench on); for each comparator that is missing, install
# its Debian package if we are root and apt-get exists (apt-get update once,
# then apt-get install -y <pkg>), else skip it with a one-line reason;
# reconfigure; build the workloads; build the Go ports with `go build`
# (GOCACHE and GOPATH inside the build directory, no network); record
# versions; run the driver, which prints the tables and writes
# bench/results/<timestamp>.{json,md} and latest.{json,md}.
# A comparator that is missing or fails never fails the run.
set -u

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$SRC/$BUILD ;; esac
BENCH=$BUILD/bench
CMAKE=${CMAKE:-cmake}
QUICK=${QUICK:-}
BENCH_DISABLE=$(echo "${BENCH_DISABLE:-}" | tr ',;' '  ')
JOBS=$(nproc 2>/dev/null || echo 2)

say() { echo "bench: $*"; }

disabled() {
    for d in $BENCH_DISABLE; do
        [ "$d" = "$1" ] && return 0
    done
    return 1
}

configure() {
    # shellcheck disable=SC2086 # BENCH_CMAKE_ARGS: words on purpose
    $CMAKE -S "$SRC" -B "$BUILD" -DMGC_BUILD_BENCH=ON \
        "-DMGC_BENCH_DISABLE=$(echo $BENCH_DISABLE | tr ' ' ';')" ${BENCH_CMAKE_ARGS:-} >/dev/null
}

pkg_of() {
    case $1 in
    boehm) echo libgc-dev ;;
    mimalloc) echo libmimalloc-dev ;;
    jemalloc) echo libjemalloc-dev ;;
    tcmalloc) echo libgoogle-perftools-dev ;;
    go) echo golang-go ;;
    esac
}

configure || { say "cmake configure failed"; exit 1; }

# ---- comparators: install the missing ones when we may -------------------------
missing=""
for s in boehm mimalloc jemalloc tcmalloc; do
    if grep -q "^$s no .*not installed" "$BENCH/systems.txt" 2>/dev/null; then
        missing="$missing $s"
    fi
done
if ! disabled go && ! command -v go >/dev/null 2>&1; then
    missing="$missing go"
fi

# run-status.txt: why run.sh skipped a system ("<system> no <why>"), read by
# the driver after CMake's systems.txt; go's line says whether Go is in.
mkdir -p "$BENCH/bin"
status="$BENCH/run-status.txt"
: >"$status"
skip() {
    say "skipping $1: $2"
    echo "$1 no $2" >>"$status"
}

if [ -n "$missing" ]; then
    if [ "${BENCH_NO_INSTALL:-0}" = 1 ]; then
        why="not installed (BENCH_NO_INSTALL=1)"
    elif [ "$(id -u)" != 0 ]; then
        why="not installed and not root: apt-get install -y"
    elif ! command -v apt-get >/dev/null 2>&1; then
        why="not installed and no apt-get:"
    else
        why=""
        say "installing missing comparators:$missing"
        if ! DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1; then
            say "apt-get update failed; trying to install anyway"
        fi
        for s in $missing; do
            pkg=$(pkg_of "$s")
            if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null 2>&1; then
                say "installed $pkg"
            else
                skip "$s" "apt-get install -y $pkg failed"
            fi
        done
        configure || { say "cmake configure failed"; exit 1; }
    fi
    if [ -n "$why" ]; then
        for s in $missing; do
            skip "$s" "$why $(pkg_of "$s")"
        done
    fi
fi

# ---- build -----------------------------------------------------------------------
if ! $CMAKE --build "$BUILD" --target mgc-bench containers_bench -j "$JOBS" >"$BUILD/bench-build.log" 2>&1; then
    tail -n 30 "$BUILD/bench-build.log"
    say "building the benchmark suite failed (log: $BUILD/bench-build.log)"
    exit 1
fi

# The Go ports: one binary per workload, offline, caches inside the build dir.
rm -f "$BENCH"/bin/*-go
if disabled go; then
    skip go "disabled by BENCH_DISABLE"
elif command -v go >/dev/null 2>&1; then
    go_ok=1
    for f in "$SRC"/bench/go/*.go; do
        w=$(basename "$f" .go)
        [ "$w" = common ] && continue
        if ! (cd "$SRC/bench/go" &&
            env GOCACHE="$BENCH/go/cache" GOPATH="$BENCH/go/path" GOENV=off GOFLAGS= \
                GOPROXY=off GO111MODULE=on GOTOOLCHAIN=local CGO_ENABLED=0 \
                go build -o "$BENCH/bin/$w-go" common.go "$w.go") >"$BENCH/go-build.log" 2>&1; then
            go_ok=0
            skip go "go build of $w.go failed: $(head -n 1 "$BENCH/go-build.log")"
            break
        fi
    done
    if [ $go_ok = 1 ]; then
        echo "go yes $(go version)" >>"$status"
    else
        rm -f "$BENCH"/bin/*-go
    fi
fi
grep -q '^go ' "$status" || echo "go no golang-go not installed" >>"$status"

# ---- versions, for the report ----------------------------------------------------
{
    cc=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$BUILD/CMakeCache.txt" 2>/dev/null)
    ver=$(sed -n 's/^#define MGC_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\).*/\2/p' "$SRC/include/mgc.h" | paste -sd. -)
    rev=$(git -C "$SRC" describe --always --dirty 2>/dev/null || echo "no git")
    bt=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$BUILD/CMakeCache.txt" 2>/dev/null)
    echo "mgc: $ver ($rev), $bt build, static libmgc.a"
    echo "compiler: $(${cc:-cc} --version 2>/dev/null | head -n 1)"
    echo "glibc: $(getconf GNU_LIBC_VERSION 2>/dev/null || echo unknown)"
    for p in libgc-dev libmimalloc-dev libjemalloc-dev libgoogle-perftools-dev; do
        v=$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null) && echo "$p: $v"
    done
    command -v go >/dev/null 2>&1 && echo "go: $(go version)"
    model=$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
    [ -n "$model" ] && echo "cpu: $model"
    echo "kernel: $(uname -sr)"
} >"$BENCH/versions.txt"

# ---- run -------------------------------------------------------------------------
set --
case $QUICK in "" | 0) ;; *) set -- --quick ;; esac
[ -n "${BENCH_ONLY:-}" ] && set -- "$@" --only "$BENCH_ONLY"
[ -n "${BENCH_SYSTEMS:-}" ] && set -- "$@" --systems "$BENCH_SYSTEMS"
[ -n "${BENCH_RUNS:-}" ] && set -- "$@" --runs "$BENCH_RUNS"
rc=0
# BENCH_ONLY=containers selects none of the suite's workloads: no suite run
# (it would replace latest.json and latest.md with empty tables).
case ,${BENCH_ONLY:-}, in
,containers,) ;;
*) "$BENCH/mgc-bench" --bindir "$BENCH" --out "$SRC/bench/results" "$@" || rc=$? ;;
esac

# The containers (mgc_buf, mgc_vec, mgc_map with and without their frees,
# against exact-size copies and glibc): their own program and table, saved
# beside the suite's results.
case ${BENCH_ONLY:-containers} in
*containers*)
    cargs=""
    case $QUICK in "" | 0) ;; *) cargs="--quick" ;; esac
    echo
    echo "### containers (bench/containers)"
    out="$SRC/bench/results/containers-latest.txt"
    # Not through a pipe to tee: its status would hide the program's.
    # shellcheck disable=SC2086
    "$BUILD/bench/containers/containers_bench" $cargs >"$out" || rc=1
    cat "$out"
    ;;
esac
exit $rc
