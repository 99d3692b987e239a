#!/bin/sh
# Build mgc with Valgrind client requests (MGC_VALGRIND=1) and check under
# memcheck that a clean program reports nothing and that reads of objects
# freed by hand (small, large, grown in place) or reclaimed by the collector
# are reported.
# Needs valgrind: installed when missing and root, else skipped (exit 77).
# Usage: test_valgrind.sh <source-dir>
set -u
src=$1
if ! command -v valgrind >/dev/null 2>&1 || [ ! -f /usr/include/valgrind/memcheck.h ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get install -y -qq valgrind >/dev/null 2>&1 ||
      { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq valgrind >/dev/null 2>&1; }
  fi
fi
if ! command -v valgrind >/dev/null 2>&1 || [ ! -f /usr/include/valgrind/memcheck.h ]; then
  echo "skipped: valgrind is not installed and could not be (apt-get install -y valgrind)"
  exit 77
fi
set -e
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O1 -g -std=gnu11 -D_GNU_SOURCE -DMGC_VALGRIND=1 -I"$src/include" -I"$src/src" \
  "$src"/src/*.c "$src/tests/valgrind/vgprog.c" -lpthread -o "$tmp/vgprog"
set +e
valgrind -q --error-exitcode=3 "$tmp/vgprog" clean >"$tmp/clean.out" 2>&1
status=$?
if [ $status -ne 0 ]; then
  cat "$tmp/clean.out"
  echo "FAIL: memcheck reported errors on a clean program (exit $status)"
  exit 1
fi
for mode in uaf-free uaf-large uaf-gc uaf-grown; do
  valgrind -q --error-exitcode=3 "$tmp/vgprog" $mode >"$tmp/$mode.out" 2>&1
  status=$?
  if [ $status -ne 3 ] || ! grep -q "Invalid read" "$tmp/$mode.out"; then
    cat "$tmp/$mode.out"
    echo "FAIL: memcheck did not report the use after free in mode $mode (exit $status)"
    exit 1
  fi
  if grep -q "Invalid free" "$tmp/$mode.out"; then
    cat "$tmp/$mode.out"
    echo "FAIL: an object was reported freed twice in mode $mode"
    exit 1
  fi
done
echo "valgrind test ok: clean run silent, 4 kinds of use after free reported"
