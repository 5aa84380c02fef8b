#!/usr/bin/env bash
# zonedev tests: `make install` layout and the pkg-config file: an external
# program builds against the installed headers and library and runs.
# usage: install.sh ZONEDEV_BINARY SOURCE_DIR
set -u
bin=$1
build=$(dirname "$bin")
san=$(grep -E '^ZD_SANITIZE:' "$build/CMakeCache.txt" 2>/dev/null | cut -d= -f2)
if [ -n "$san" ] && [ "$san" != none ]; then
	echo "sanitizer build ($san): the install check runs in the normal build only"
	echo "0 passed, 0 failed"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
check() { if eval "$2"; then echo "ok   $1"; pass=$((pass + 1)); else echo "FAIL $1"; fail=$((fail + 1)); fi; }

check "cmake --install" "cmake --install '$build' --prefix '$tmp/inst' >/dev/null"
for f in bin/zonedev lib/libzonedev.a lib/libzonedev.so lib/pkgconfig/zonedev.pc \
	include/zonedev/zonedev.h share/man/man1/zonedev.1; do
	check "installed $f" "[ -e '$tmp/inst/$f' ]"
done
cat >"$tmp/ext.c" <<'C'
#include <stdio.h>
#include <zonedev/zonedev.h>
int main(void)
{
	struct zd_world *w;
	struct zd_device *dev;
	struct zd_device_config cfg = { .name = "gpu0", .type = ZD_MEMORY_DEVICE_PRIVATE,
					.size = 1 << 21 };

	if (zd_world_create(NULL, &w) || zd_device_create(w, &cfg, &dev))
		return 1;
	printf("%lu %ld\n", zd_device_nr_pages(dev), zd_pgmap_refs(zd_device_pgmap(dev, 0)));
	zd_world_destroy(w);
	return 0;
}
C
export PKG_CONFIG_PATH="$tmp/inst/lib/pkgconfig"
check "pkg-config knows zonedev" "pkg-config --exists zonedev"
check "external program builds" "cc '$tmp/ext.c' \$(pkg-config --cflags --libs zonedev) -Wl,-rpath,'$tmp/inst/lib' -o '$tmp/ext'"
check "external program runs" "[ \"\$('$tmp/ext')\" = '512 1' ]"
check "installed CLI runs" "'$tmp/inst/bin/zonedev' version | grep -q zonedev"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
