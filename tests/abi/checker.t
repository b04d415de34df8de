#!/bin/bash
# tools/abi-check catches what it must: each mutation of a scratch copy of
# the headers (or of the manifest) is either accepted as compatible or
# refused with a message naming the difference.  The scratch tree starts
# from abi/headers/VERSION, the headers the manifest was recorded from.
. "$(dirname "$0")/../lib.sh"
command -v gdb >/dev/null || skip_all "gdb is missing (tools/install-deps)"
VER=$(sed -n 's/^abi //p' "$TOP"/abi/v*.manifest | sort -V | tail -1)
MAJ=${VER%.*} MIN=${VER#*.}
need "$TOP/abi/v$MAJ.manifest" "$TOP/abi/headers/$VER/modhost/module.h"
plan 42

S=$T/top
H=$S/include/modhost/module.h
# fresh: a scratch tree whose headers match the manifest.
fresh() {
	rm -rf "$S"
	mkdir -p "$S/tools" "$S/include"
	cp "$TOP/tools/abi-check" "$S/tools/"
	cp -r "$TOP/abi" "$S/abi"
	cp -r "$TOP/abi/headers/$VER/modhost" "$S/include/"
}
# check [ARGS]: run the scratch checker; $out holds what it said.
check() {
	out=$("$S/tools/abi-check" "$@" 2>&1)
	status=$?
}
# says PATTERN DESCRIPTION: the last check's output matches PATTERN.
says() {
	grep -qE -- "$1" <<<"$out"
	ok $? "$2"
	[ $? -eq 0 ] || diag <<<"$out"
}
fails() { [ "$status" -eq 1 ]; ok $? "$1: refused (exit $status)"; }
passes() { [ "$status" -eq 0 ]; ok $? "$1: accepted (exit $status)"; [ "$status" -eq 0 ] || diag <<<"$out"; }
bump_minor() { sed -i "s/^#define MODHOST_ABI_MINOR .*/#define MODHOST_ABI_MINOR $((MIN + 1))/" "$H"; }
# add_member DECL: append DECL to struct mh_api, at its end.
add_member() { sed -i "/^struct mh_api {/,/^};/ s/^};/\t$1\n};/" "$H"; }

fresh
check
passes "unchanged headers"
says "matches abi/v$MAJ.manifest" "... and says they match"

fresh
sed -i 's/^\(\tconst char \*(\*param_str)(mh_module \*self, const char \*\)name);/\1key);/' "$H"
check
passes "a parameter renamed in a prototype (same ABI)"

fresh
sed -i '/^\tconst char \*(\*module_name)(mh_module \*self);/d' "$H"
check
fails "member removed from mh_api"
says "error: removed: member mh_api.module_name" "... naming it"
says "changed: member mh_api.param_str: .*offset 24 -> 16" "... and the members it moved"

fresh
sed -i 's/^\tint (\*reg_read)(const mh_reg \*reg, void \*buf, size_t len);/\tint (*reg_read)(const mh_reg *reg, void *buf, uint32_t len);/' "$H"
check
fails "API entry's signature changed"
says "changed: member mh_api.reg_read: type int \(\*\)\(const mh_reg \*, void \*, size_t\) -> int \(\*\)\(const mh_reg \*, void \*, uint32_t\)" \
	"... naming the old and the new signature"

fresh
bump_minor
sed -i 's/^\tint (\*set_translate)(/\tvoid (*inserted)(void);\n&/' "$H"
check
fails "member inserted in the middle of mh_api, even with a minor bump"
says "changed: member mh_api.set_translate: .*offset 56 -> 64" "... naming the shifted offsets"

fresh
add_member "void (*later)(mh_module *self);"
check
fails "member appended without a minor bump"
says "added without a minor bump: member mh_api.later \(raise MODHOST_ABI_MINOR to $((MIN + 1))\)" \
	"... saying which bump is missing"
says "struct mh_api grew from [0-9]+ to [0-9]+ bytes without a minor bump" "... and that the table grew"

fresh
add_member "void (*later)(mh_module *self);"
bump_minor
check
passes "member appended with a minor bump"
says "added: member mh_api.later" "... listed as an addition"
check --update
passes "abi-update records the addition"
grep -q "^member mh_api.later $MAJ.$((MIN + 1)) " "$S/abi/v$MAJ.manifest" &&
	grep -q "^member mh_api.log $MAJ.0 " "$S/abi/v$MAJ.manifest" &&
	grep -q "^abi $MAJ.$((MIN + 1))$" "$S/abi/v$MAJ.manifest"
ok $? "... with the new minor as its SINCE, old entries keeping theirs"
[ -f "$S/abi/headers/$MAJ.$((MIN + 1))/modhost/module.h" ]
ok $? "... and a snapshot of the new minor's headers"
check
passes "after the update"
says "matches" "... the headers match the new manifest"
# The old minor's headers against the newer manifest: a subset.
check --include "$S/abi/headers/$VER"
fails "the old minor's headers as the tree's headers (minor going back)"
says "MODHOST_ABI_MINOR went back" "... saying so"
check --include "$S/abi/headers/$VER" --older-ok
passes "the old minor's headers with --older-ok (an installed older SDK)"
says "matches abi/v$MAJ.manifest up to $VER" "... matching the manifest up to their minor"
sed -i 's/^\tMH_MEM_R = 1,/\tMH_MEM_R = 4,/' "$S/abi/headers/$VER/modhost/module.h"
check --include "$S/abi/headers/$VER" --older-ok
fails "an older minor's headers that differ from the manifest, with --older-ok"

fresh
sed -i 's/^\tMH_MEM_R = 1,/\tMH_MEM_R = 4,/' "$H"
check
fails "enum value changed"
says "changed: enumerator MH_MEM_R: mh_mem_rw 1 -> 4" "... naming the value"

fresh
sed -i 's/^\tMH_COND_GE,/\tMH_COND_GE,\n\tMH_COND_LATER,/' "$H"
bump_minor
check
passes "enumerator appended with a minor bump"

fresh
sed -i 's/^\tsize_t offset;/\tuint32_t offset;/' "$H"
bump_minor
check
fails "mh_u64 (passed by value) changed, even with a minor bump"
says "changed: member mh_u64.offset: size 8 -> 4, type size_t -> uint32_t" "... naming size and type"

fresh
sed -i 's/^#define MH_SECTION ".modhost"/#define MH_SECTION ".modhost2"/' "$H"
check
fails "metadata section renamed"
says "changed: const MH_SECTION" "... naming it"

fresh
sed -i 's/^#define MH_REQUIRES(module) MH_INFO("depends", module)/#define MH_REQUIRES(module) MH_INFO("requires", module)/' "$H"
check
fails "a macro emits an undescribed metadata key"
says "metadata key 'requires'" "... naming the key"

fresh
sed -i "s/^#define MODHOST_ABI_MAJOR .*/#define MODHOST_ABI_MAJOR $((MAJ + 1))/; s/^#define MODHOST_ABI_MINOR .*/#define MODHOST_ABI_MINOR 0/" "$H"
check
fails "major bump without a manifest for it"
says "no manifest for ABI major $((MAJ + 1))" "... asking for one"
check --update
[ "$status" -eq 0 ] && [ -f "$S/abi/v$((MAJ + 1)).manifest" ] && [ -f "$S/abi/v$MAJ.manifest" ]
ok $? "abi-update starts the new major's manifest, keeping the old one"

fresh
sed -i '/^\tvoid (\*exit)(mh_module \*self);/d' "$H"
check --update
fails "abi-update of an incompatible change"
cmp -s "$S/abi/v$MAJ.manifest" "$TOP/abi/v$MAJ.manifest"
ok $? "... leaves the manifest alone"
check --update --force
passes "abi-update --force records it anyway"

fresh
sed -i 's/^\(member mh_module_ops.init [0-9.]* index=3 offset=\)8 /\116 /' "$S/abi/v$MAJ.manifest"
check
fails "a tampered manifest (init's offset)"
says "changed: member mh_module_ops.init: offset 16 -> 8" "... naming the entry"
