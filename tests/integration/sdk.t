#!/bin/bash
# The SDK: make install, then build modules out of tree against the
# installed SDK alone, kbuild style, and run them with the installed host.
. "$(dirname "$0")/../lib.sh"
need "$BUILD/modhost.so" "$BUILD/modules/example.so"
plan 18

P=$T/prefix
SDK=$P/lib/modhost/sdk
make -s -C "$TOP" install PREFIX="$P" >"$T/install.log" 2>&1
ok $? "make install PREFIX=..."
for f in lib/modhost/modhost.so lib/modhost/modules/example.so \
	include/modhost/module.h lib/modhost/sdk/Makefile lib/modhost/sdk/module.mk; do
	[ -f "$P/$f" ] || { echo "# missing $f"; missing=1; }
done
ok "${missing:-0}" "host, modules, headers and SDK rules installed"
is "$(PKG_CONFIG_PATH=$P/lib/pkgconfig pkg-config --variable=sdkdir modhost)" "$SDK" \
	"modhost.pc names the SDK directory"

# The example, copied out of the tree and changed, built with the SDK alone.
cp -r "$TOP/modules/example" "$T/mymod"
sed -i 's/MH_MODULE("example", "1.0"/MH_MODULE("example", "2.0"/' "$T/mymod/example.c"
make -C "$SDK" M="$T/mymod" V=1 >"$T/build.log" 2>&1
ok $? "make -C <installed sdk> M=\$PWD builds the example"
[ -f "$T/mymod/example.so" ]
ok $? "the module lands in \$PWD"
! grep -q -- "$TOP" "$T/build.log"
ok $? "nothing of the source tree is used"
make -C "$T/mymod" clean MODHOST="$SDK" >/dev/null 2>&1 &&
	make -C "$T/mymod" MODHOST="$SDK" >/dev/null 2>&1 && [ -f "$T/mymod/example.so" ]
ok $? "the module's own Makefile works too (make MODHOST=<sdk>)"

# Several sources: NAME-y.
mkdir "$T/multi"
printf 'obj-m := multi.so\nmulti-y := main.o helper.o\n' > "$T/multi/Makefile"
cat > "$T/multi/helper.c" <<'C'
int multi_answer(void) { return 42; }
C
cat > "$T/multi/main.c" <<'C'
#include <modhost/module.h>
int multi_answer(void);
static int multi_init(mh_module *self, const struct mh_api *api)
{
	api->log(self, MH_LOG_INFO, "answer %d", multi_answer());
	return 0;
}
MH_MODULE("multi", "1", "MIT", "two sources", .init = multi_init);
C
make -C "$SDK" M="$T/multi" >"$T/multi.log" 2>&1 && [ -f "$T/multi/multi.so" ]
ok $? "obj-m with NAME-y := a.o b.o builds one module from two objects"
make -C "$TOP" M="$T/multi" clean >/dev/null 2>&1 &&
	make -C "$TOP" M="$T/multi" >/dev/null 2>&1 && [ -f "$T/multi/multi.so" ]
ok $? "make -C <source tree> M=\$PWD works as well"

# The header tiers, installed side by side in include/modhost/: the host's
# ABI (module.h, guest.h and the hypercall constants both sides share) and
# each shipped module's API.  A module that uses them all builds against
# the installed SDK alone and against the source tree, where they live in
# separate directories; a guest includes guest.h freestanding.
for h in module.h guest.h hypercall.h hypercaller.h callstack_instr.h stpi.h; do
	[ -f "$P/include/modhost/$h" ] || { echo "# missing include/modhost/$h"; hmissing=1; }
done
ok "${hmissing:-0}" "the ABI headers and the shipped modules' API headers are installed"
mkdir "$T/apiuser"
printf 'obj-m := apiuser.so\n' > "$T/apiuser/Makefile"
cat > "$T/apiuser/apiuser.c" <<'C'
#include <modhost/module.h>
#include <modhost/hypercall.h>
#include <modhost/callstack_instr.h>
#include <modhost/hypercaller.h>
#include <modhost/stpi.h>
static cs_get_callers_t get_callers;
MH_IMPORT(CS_MODULE, get_callers, CS_GET_CALLERS_SIG);
static int apiuser_init(mh_module *self, const struct mh_api *api)
{
	api->log(self, MH_LOG_INFO, "%s %s load=0x%x", HYPERCALLER_REGISTER_SIG,
		 STPI_MODULE, MH_HC_LOAD);
	return 0;
}
MH_MODULE("apiuser", "1", "MIT", "every public header", .init = apiuser_init);
C
make -C "$SDK" M="$T/apiuser" MODHOST_WERROR=1 >"$T/apiuser.log" 2>&1 &&
	[ -f "$T/apiuser/apiuser.so" ]
st=$?
ok $st "a module using every installed header builds against the SDK alone"
[ $st -eq 0 ] || diag <"$T/apiuser.log"
rm -f "$T/apiuser/apiuser.so"
make -C "$TOP" M="$T/apiuser" MODHOST_WERROR=1 >"$T/apiuser-tree.log" 2>&1 &&
	[ -f "$T/apiuser/apiuser.so" ]
st=$?
ok $st "and against the source tree"
[ $st -eq 0 ] || diag <"$T/apiuser-tree.log"
# A QEMU plugin source, obj-q: the QEMU API header and the compatibility
# layer come from the installed SDK.
mkdir "$T/qplug"
cp "$TOP/tests/qplugins/qregs.c" "$T/qplug/"
printf 'obj-q := qregs.so\nqregs-version := 2\n' > "$T/qplug/Makefile"
make -C "$SDK" M="$T/qplug" V=1 >"$T/qplug.log" 2>&1 &&
	[ -f "$T/qplug/qregs.so" ] && ! grep -q -- "$TOP" "$T/qplug.log" &&
	readelf -p .modhost "$T/qplug/qregs.so" | grep -q 'version=2'
st=$?
ok $st "a QEMU plugin source builds with obj-q against the installed SDK alone"
[ $st -eq 0 ] || diag <"$T/qplug.log"
cat > "$T/guest.c" <<'C'
#include <modhost/guest.h>
void start(void) { mh_guest_load("example"); mh_hypercall_cpuid0(MH_HC_RESERVED_LAST); }
C
${CC:-cc} -ffreestanding -nostdlib -Wall -Wextra -Werror -I"$P/include" \
	-c -o "$T/guest.o" "$T/guest.c" 2>"$T/guest.log"
st=$?
ok $st "guest.h compiles freestanding against the installed headers"
[ $st -eq 0 ] || diag <"$T/guest.log"

# Run them with the installed host: the default dir is modules/ beside it.
MODHOST_SO=$P/lib/modhost/modhost.so
MODDIR=$P/lib/modhost/modules
drop "$T/multi/multi.so" multi
qemu_start load=example:multi
wait_event '.event=="message" and .module=="multi" and .text=="answer 42"'
ok $? "the two-object module runs"
drop "$T/mymod/example.so" example
wait_event '.event=="reload" and .module=="example"'
is "$(events '.event=="reload"' | jq -r '[.old_version,.version]|join(" ")')" "1.0 2.0" \
	"the out-of-tree build reloads over the installed one"
jq -e '.text|test("^restored count=[1-9]")' \
	<<<"$(events '.event=="message" and .module=="example"' | grep restored)" >/dev/null
ok $? "and takes over its count"
qemu_stop

"$QEMU" -M pc -m 64 -display none -monitor none -no-reboot -serial null \
	-device isa-debug-exit,iobase=0xf4,iosize=4 \
	-kernel "$BUILD/tests/guest/spin.elf" -append "ticks=1" \
	-plugin "$P/lib/modhost/modhost.so,log=$T/default.jsonl" 2>/dev/null
is "$(jq -r 'select(.event=="start").dir' "$T/default.jsonl")" "$P/lib/modhost/modules" \
	"without dir=, the modules/ directory beside modhost.so is used"
