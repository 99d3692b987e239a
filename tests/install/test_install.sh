#!/bin/sh
# Install mgc from the build tree into a temporary prefix, then build and run
# consumers through pkg-config (mgc.pc) and through find_package(mgc).
# Usage: test_install.sh <build-dir> <source-dir>
set -eu
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
test -f "$tmp/prefix/include/mgc.h"
libdir=$(ls -d "$tmp"/prefix/lib*/ | head -n 1)
test -f "$libdir/libmgc.a"
test -f "$libdir/libmgc.so"
pc="$libdir/pkgconfig/mgc.pc"
test -f "$pc"
grep -q '^Libs.private: -lpthread' "$pc"

# pkg-config consumer (the .pc file read directly when pkg-config is absent).
if command -v pkg-config >/dev/null 2>&1; then
  flags=$(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags --libs mgc)
else
  echo "pkg-config not installed: reading mgc.pc directly"
  flags="-I$tmp/prefix/include -L$libdir -lmgc"
fi
cc -o "$tmp/pc_consumer" "$src/tests/install/consumer.c" $flags -lpthread -Wl,-rpath,"$libdir"
"$tmp/pc_consumer" | tee "$tmp/out"
grep -q "inline append" "$tmp/out"
# mgc.h's inline mgc_buf_append turned off, and mgc.h from C++: the functions.
cc -DMGC_BUF_NO_INLINE -o "$tmp/pc_noinline" "$src/tests/install/consumer.c" $flags -lpthread -Wl,-rpath,"$libdir"
"$tmp/pc_noinline" | tee "$tmp/out"
grep -q "function append" "$tmp/out"
if command -v c++ >/dev/null 2>&1; then
  c++ -x c++ -o "$tmp/pc_cxx" "$src/tests/install/consumer.c" -x none $flags -lpthread -Wl,-rpath,"$libdir"
  "$tmp/pc_cxx" | tee "$tmp/out"
  grep -q "function append" "$tmp/out"
else
  echo "no C++ compiler: mgc.h from C++ not tried"
fi

# CMake package consumer, shared and static.
cmake -S "$src/tests/install" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/consumer" >/dev/null
"$tmp/consumer/consumer"
"$tmp/consumer/consumer_static"
# A plugin linked with the shared library, dlopen'ed and dlclose'd by a host
# that does not link mgc: libmgc.so stays mapped (-z nodelete) under its
# threads, thread-exit destructor and SIGPWR handler, and a second load
# finds the same heap.
cc -shared -fPIC -o "$tmp/plugin.so" "$src/tests/install/plugin.c" $flags -lpthread -Wl,-rpath,"$libdir"
cc -o "$tmp/dlclose_host" "$src/tests/install/dlclose_host.c" -lpthread -ldl
"$tmp/dlclose_host" "$tmp/plugin.so" | tee "$tmp/out"
grep -q "round 1: .* survived dlclose" "$tmp/out"
# A program with the static copy loading that plugin: two copies of mgc in
# one process; the second aborts at its start with one line.
cc -o "$tmp/two_host" "$src/tests/install/two_host.c" -I"$tmp/prefix/include" "$libdir/libmgc.a" -lpthread -ldl
status=0
"$tmp/two_host" "$tmp/plugin.so" 2>"$tmp/err" || status=$?
cat "$tmp/err"
test "$status" -eq 134
grep -q "another copy of mgc already handles SIGPWR" "$tmp/err"
# Only mgc_* is exported from the shared library.
if command -v nm >/dev/null 2>&1; then
  bad=$(nm -D --defined-only "$libdir/libmgc.so" | awk '$2 ~ /[TDBRVW]/ {print $3}' | grep -v '^mgc_' || true)
  if [ -n "$bad" ]; then echo "exported non-mgc symbols: $bad"; exit 1; fi
fi
echo "install test ok"
