# Test programs: the counter module's variants, the dependency modules,
# unit tests.  Included from the top-level Makefile.

TMOD := $(BUILD)/tests/modules
TMOD_CFLAGS := -O2 -g -Wall -Wextra -Werror -fPIC -fvisibility=hidden -Iinclude \
	-Imodules/include
TMOD_LDFLAGS := -shared -Wl,-z,defs

ABI_MAJOR := $(shell sed -n 's/^\#define MODHOST_ABI_MAJOR //p' include/modhost/module.h)
ABI_MINOR := $(shell sed -n 's/^\#define MODHOST_ABI_MINOR //p' include/modhost/module.h)

# variant name -> compiler flags
counter_v1_FLAGS := -DCOUNTER_VERSION='"1"'
counter_v2_FLAGS := -DCOUNTER_VERSION='"2"'
counter_v3_FLAGS := -DCOUNTER_VERSION='"3"'
counter_initfail_FLAGS := -DCOUNTER_VERSION='"initfail"' -DCOUNTER_INIT_FAIL
counter_crash_FLAGS := -DCOUNTER_VERSION='"crash"' -DCOUNTER_INIT_CRASH
counter_abort_FLAGS := -DCOUNTER_VERSION='"abort"' -DCOUNTER_INIT_ABORT
counter_exit_FLAGS := -DCOUNTER_VERSION='"exit"' -DCOUNTER_INIT_EXIT
counter_hang_FLAGS := -DCOUNTER_VERSION='"hang"' -DCOUNTER_INIT_HANG
counter_mallochang_FLAGS := -DCOUNTER_VERSION='"mallochang"' \
	-DCOUNTER_INIT_MALLOC_HANG
counter_cbhang_FLAGS := -DCOUNTER_VERSION='"cbhang"' -DCOUNTER_INIT_CALLBACK_HANG
counter_abimajor_FLAGS := -DCOUNTER_VERSION='"abimajor"' \
	-DCOUNTER_ABI_MAJOR=$(shell echo $$(($(ABI_MAJOR) + 1)))
counter_abiminor_FLAGS := -DCOUNTER_VERSION='"abiminor"' \
	-DCOUNTER_ABI_MINOR=$(shell echo $$(($(ABI_MINOR) + 1)))
counter_x86_FLAGS := -DCOUNTER_VERSION='"x86"' -DCOUNTER_TARGETS='"x86_64,i386"'
counter_arm_FLAGS := -DCOUNTER_VERSION='"arm"' -DCOUNTER_TARGETS='"aarch64,arm"'
COUNTER_VARIANTS := v1 v2 v3 initfail crash abort exit hang mallochang cbhang abimajor \
	abiminor x86 arm

prov_v1_FLAGS := -DPROV_VERSION='"1"'
prov_v2_FLAGS := -DPROV_VERSION='"2"'
prov_drop_FLAGS := -DPROV_VERSION='"drop"' -DPROV_DROP_EXPORT
prov_sig_FLAGS := -DPROV_VERSION='"sig"' -DPROV_CHANGE_SIG
prov_pppsig_FLAGS := -DPROV_VERSION='"pppsig"' -DPROV_PPP_SIG
cons_v1_FLAGS := -DCONS_VERSION='"1"'
cons_v2_FLAGS := -DCONS_VERSION='"2"'
cons_badsig_FLAGS := -DCONS_VERSION='"badsig"' -DCONS_BAD_SIG
cons_missing_FLAGS := -DCONS_VERSION='"missing"' -DCONS_MISSING
cons_ppp_FLAGS := -DCONS_VERSION='"ppp"' -DCONS_PPP_ONLY
REGISTRY_VARIANTS := prov-v1 prov-v2 prov-drop prov-sig prov-pppsig \
	cons-v1 cons-v2 cons-badsig cons-missing cons-ppp

TEST_MODULES := $(COUNTER_VARIANTS:%=$(TMOD)/counter-%.so) \
	$(REGISTRY_VARIANTS:%=$(TMOD)/%.so) \
	$(TMOD)/dep_base.so $(TMOD)/dep_user.so $(TMOD)/probe.so \
	$(TMOD)/sbloop.so

$(TMOD)/counter-%.so: tests/modules/counter.c tests/modules/testmod.h include/modhost/module.h tests/tests.mk
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(TMOD_CFLAGS) $(counter_$*_FLAGS) $(TMOD_LDFLAGS) -o $@ $<

# NAME-VARIANT.so from NAME.c with NAME_VARIANT_FLAGS
$(REGISTRY_VARIANTS:%=$(TMOD)/%.so): $(TMOD)/%.so: include/modhost/module.h tests/tests.mk
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(TMOD_CFLAGS) $($(subst -,_,$*)_FLAGS) $(TMOD_LDFLAGS) -o $@ \
		tests/modules/$(firstword $(subst -, ,$*)).c

$(REGISTRY_VARIANTS:%=$(TMOD)/%.so): $(TMOD)/%.so: tests/modules/prov.c tests/modules/cons.c \
	tests/modules/blob.h tests/modules/testmod.h

$(TMOD)/%.so: tests/modules/%.c include/modhost/module.h
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(TMOD_CFLAGS) $(TMOD_LDFLAGS) -o $@ $<

# Unit tests link the host's pure parts directly.
UNIT_TESTS := $(BUILD)/tests/unit/test-meta $(BUILD)/tests/unit/test-params \
	$(BUILD)/tests/unit/test-signature $(BUILD)/tests/unit/test-json \
	$(BUILD)/tests/unit/test-ctlparse
# guard.c: the loader binds modules' exit() calls to its catchers.
UNIT_HOST_SRCS := host/loader.c host/params.c host/signature.c host/json.c \
	host/guard.c host/ctlparse.c host/script.c

$(BUILD)/tests/unit/test-%: tests/unit/test-%.c tests/unit/unit.h $(UNIT_HOST_SRCS) host/internal.h
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -std=gnu11 -D_GNU_SOURCE -Iinclude -Ihost $(PKG_CFLAGS) -o $@ \
		$< $(UNIT_HOST_SRCS) $(PKG_LIBS) -ldl

# The registry's hot-path benchmark links the registry itself.
REGISTRY_BENCH_SRCS := host/registry.c host/log.c $(UNIT_HOST_SRCS)
$(BUILD)/bench/registry-bench: tests/bench/registry-bench.c $(REGISTRY_BENCH_SRCS) host/internal.h
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -std=gnu11 -D_GNU_SOURCE -Iinclude -Ihost $(PKG_CFLAGS) \
		-o $@ $< $(REGISTRY_BENCH_SRCS) $(PKG_LIBS) -ldl

# callstack_instr's sources on their own: CSI_UNIT_LINK links a test ($<)
# with the .c files among its prerequisites.
CSI_UNIT_LINK = $(CC) $(CFLAGS) -std=gnu11 -D_GNU_SOURCE -Iinclude \
	-Imodules/include -Imodules/callstack_instr $(PKG_CFLAGS) -o $@ $< \
	$(filter modules/%.c,$^) $(PKG_LIBS)

# callstack_instr's target check (which guests it can follow).
UNIT_TESTS += $(BUILD)/tests/unit/test-csi-target
$(BUILD)/tests/unit/test-csi-target: tests/unit/test-csi-target.c tests/unit/unit.h \
		modules/callstack_instr/target.c modules/callstack_instr/internal.h
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CSI_UNIT_LINK)

# callstack_instr's classification of a block's last instruction, with
# and without capstone.
UNIT_TESTS += $(BUILD)/tests/unit/test-csi-decode
$(BUILD)/tests/unit/test-csi-decode: tests/unit/test-csi-decode.c tests/unit/unit.h \
		modules/callstack_instr/decode.c modules/callstack_instr/internal.h
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CSI_UNIT_LINK) $(shell pkg-config --libs capstone)

# callstack_instr's folded stacks: the trie, counted by several threads at
# once, and the file's order.  CSI_FOLDED_LINK links a program ($<) with
# them alone.
CSI_FOLDED_SRCS := modules/callstack_instr/stacks.c \
	modules/callstack_instr/output.c modules/lib/symtab.c \
	modules/lib/kernel_image.c
CSI_FOLDED_LINK = $(CC) $(CFLAGS) -std=gnu11 -D_GNU_SOURCE -Iinclude \
	-Imodules/include -Imodules/callstack_instr -Imodules/lib $(PKG_CFLAGS) \
	-o $@ $< $(CSI_FOLDED_SRCS) $(PKG_LIBS) $(shell pkg-config --libs liblz4)
UNIT_TESTS += $(BUILD)/tests/unit/test-csi-folded
$(BUILD)/tests/unit/test-csi-folded: tests/unit/test-csi-folded.c tests/unit/unit.h \
		$(CSI_FOLDED_SRCS) modules/callstack_instr/internal.h
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CSI_FOLDED_LINK)

# The folded-stack trie's cost per call, one and two threads (make bench).
$(BUILD)/bench/trie-bench: tests/bench/trie-bench.c $(CSI_FOLDED_SRCS) \
		modules/callstack_instr/internal.h
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CSI_FOLDED_LINK)

tests-build: $(GUEST_ELFS) $(TEST_MODULES) $(UNIT_TESTS) $(BUILD)/bench/registry-bench \
	$(BUILD)/bench/trie-bench
.PHONY: tests-build

# -- ABI conformance, sanitizers, fuzzing (Documentation/abi.rst) ---------

# The conformance suite's test modules, built with the SDK's own rules.
abi-modules:
	$(Q)$(MAKE) --no-print-directory -C tests/abi modules
.PHONY: abi-modules

# test-meta again under ASan and UBSan: the metadata reader on bad input.
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
$(BUILD)/tests/unit/test-meta-asan: tests/unit/test-meta.c tests/unit/unit.h \
		$(UNIT_HOST_SRCS) host/internal.h
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -O1 -g -Wall -Wextra $(SAN_FLAGS) -std=gnu11 -D_GNU_SOURCE \
		-Iinclude -Ihost $(PKG_CFLAGS) -o $@ $< $(UNIT_HOST_SRCS) \
		$(PKG_LIBS) -ldl

# The metadata reader's libFuzzer target; needs clang (tests/fuzz/fuzz.t
# skips without it).
FUZZ_CC ?= $(firstword $(shell command -v clang-14 clang 2>/dev/null))
FUZZ_TARGETS := $(if $(FUZZ_CC),$(BUILD)/tests/fuzz/fuzz-meta)
$(BUILD)/tests/fuzz/fuzz-meta: tests/fuzz/fuzz-meta.c $(UNIT_HOST_SRCS) \
		host/internal.h
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) -O1 -g -Wall -Wextra -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -std=gnu11 -D_GNU_SOURCE \
		-Iinclude -Ihost $(PKG_CFLAGS) -o $@ $< $(UNIT_HOST_SRCS) \
		$(PKG_LIBS) -ldl

tests-build: abi-modules $(BUILD)/tests/unit/test-meta-asan $(FUZZ_TARGETS)

# The signature parser's libFuzzer target (tests/fuzz/sig-parse.t).
SIG_FUZZ := $(if $(FUZZ_CC),$(BUILD)/tests/fuzz/sig-parse)
$(BUILD)/tests/fuzz/sig-parse: tests/fuzz/sig-parse.c host/signature.c host/internal.h
	$(call say,FUZZ,$@)
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) -O1 -g -Wall -Wextra -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -std=gnu11 -D_GNU_SOURCE \
		-Iinclude -Ihost $(PKG_CFLAGS) -o $@ $(filter %.c,$^) $(PKG_LIBS)

tests-build: $(SIG_FUZZ)

# -- hypercalls (tests/integration/hypercall*.t) ------------------------------
hcrec_v1_FLAGS := -DHCREC_VERSION='"1"'
hcrec_v2_FLAGS := -DHCREC_VERSION='"2"'
HC_TEST_MODULES := $(TMOD)/hcrec-v1.so $(TMOD)/hcrec-v2.so $(TMOD)/hcdup.so \
	$(TMOD)/hcsym.so $(TMOD)/hcsym-sig2.so $(TMOD)/hccons.so
# hcsym with hc_greet's signature changed (hypercall-sigcache.t)
$(TMOD)/hcsym-sig2.so: tests/modules/hcsym.c include/modhost/module.h tests/tests.mk
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(TMOD_CFLAGS) -DHCSYM_SIG2 $(TMOD_LDFLAGS) -o $@ $<
$(TMOD)/hccons.so: tests/modules/hccons.c tests/guest/hcall-pattern.h \
		modules/include/modhost/hypercaller.h include/modhost/module.h
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(TMOD_CFLAGS) -Itests/guest $(TMOD_LDFLAGS) -o $@ $<
$(TMOD)/hcrec-%.so: tests/modules/hcrec.c tests/guest/hcall-pattern.h \
		include/modhost/module.h tests/tests.mk
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(TMOD_CFLAGS) -Itests/guest $(hcrec_$*_FLAGS) $(TMOD_LDFLAGS) \
		-o $@ $<
tests-build: $(HC_TEST_MODULES)

# -- callstack_instr (tests/integration/callstack*.t) ---------------------------
CS_TEST_MODULES := $(TMOD)/cs_cons.so $(TMOD)/csi_fake-newer.so \
	$(TMOD)/csi_fake-alien.so
$(TMOD)/cs_cons.so: tests/modules/cs_cons.c include/modhost/module.h \
		modules/include/modhost/callstack_instr.h tests/tests.mk
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(TMOD_CFLAGS) $(shell pkg-config --cflags glib-2.0) \
		$(TMOD_LDFLAGS) -o $@ $< $(shell pkg-config --libs glib-2.0)
# A "callstack_instr" handing over a state of a newer format (9), and one
# that is not callstack_instr's at all (callstack-state.t).
csi_fake_newer_STATE := CSI9 from a later version
csi_fake_alien_STATE := not a callstack_instr state
$(TMOD)/csi_fake-%.so: tests/modules/csi_fake.c include/modhost/module.h \
		tests/tests.mk
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(TMOD_CFLAGS) -DCSI_FAKE_STATE='"$(csi_fake_$*_STATE)"' \
		$(TMOD_LDFLAGS) -o $@ $<
tests-build: $(CS_TEST_MODULES)

# The stpi/dwarfp/dwarf_simple tests (their own fragment, if present).
-include tests/stpi.mk

# -- soak and sanitizers (tests/soak/, make soak, make check-asan) -----------
# leaky.so leaks on purpose: check-asan's proof that its leak check runs.
tests-build: $(TMOD)/leaky.so

# QEMU plugins (tests/qplugins/): each source built twice, as a modhost
# module with obj-q (the SDK's rules, as a plugin author runs them) and as a
# plain QEMU plugin for QEMU's own -plugin, against the same API header.
QPLUGINS := qcount qregs qmem qlife
QPLUGIN_DIR := $(BUILD)/tests/qplugins

$(QPLUGIN_DIR)/%.so: tests/qplugins/%.c tools/qcompat/qcompat.c \
		host/qemu/qemu-plugin.h include/modhost/module.h tools/module.mk
	$(Q)$(MAKE) --no-print-directory -f tools/module.mk \
		M=tests/qplugins MO=$(QPLUGIN_DIR) \
		OBJDIR=$(BUILD)/obj/tests/qplugins/$* \
		MODHOST_INCLUDE='$(MODHOST_INCLUDE_DIRS)' \
		MODHOST_QEMU_HEADER=$(CURDIR)/host/qemu/qemu-plugin.h \
		MODHOST_WERROR=1 $(CURDIR)/$@

$(QPLUGIN_DIR)/native/%.so: tests/qplugins/%.c host/qemu/qemu-plugin.h
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) -O2 -g -Wall -Wextra -Werror -shared -fPIC -Ihost/qemu -Ihost \
		$(shell pkg-config --cflags glib-2.0) -o $@ $<

tests-build: $(QPLUGINS:%=$(QPLUGIN_DIR)/%.so) \
	$(QPLUGINS:%=$(QPLUGIN_DIR)/native/%.so)

# -- osi (tests/linux/osi.t) ---------------------------------------------------
$(TMOD)/osi_probe.so: tests/modules/osi_probe.c tests/modules/probe-out.h \
		include/modhost/module.h modules/include/modhost/osi.h tests/tests.mk
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(TMOD_CFLAGS) $(shell pkg-config --cflags glib-2.0) \
		$(TMOD_LDFLAGS) -o $@ $< $(shell pkg-config --libs glib-2.0)
tests-build: $(TMOD)/osi_probe.so
# dwarfp on a user program (tests/linux/userprog.t).
$(TMOD)/up_probe.so: tests/modules/up_probe.c tests/modules/probe-out.h \
		include/modhost/module.h modules/include/modhost/stpi.h tests/tests.mk
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(TMOD_CFLAGS) $(shell pkg-config --cflags glib-2.0) \
		$(TMOD_LDFLAGS) -o $@ $< $(shell pkg-config --libs glib-2.0)
tests-build: $(TMOD)/up_probe.so
# stpi/dwarfp on the kernel of a Linux boot (tests/linux/kstpi.t).
$(TMOD)/kstpi_probe.so: tests/modules/kstpi_probe.c tests/modules/probe-out.h \
		include/modhost/module.h modules/include/modhost/stpi.h tests/tests.mk
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(TMOD_CFLAGS) $(shell pkg-config --cflags glib-2.0) \
		$(TMOD_LDFLAGS) -o $@ $< $(shell pkg-config --libs glib-2.0)
tests-build: $(TMOD)/kstpi_probe.so
# osi_linux's kernel profiles (modules/osi_linux/profile.c), on their own.
UNIT_TESTS += $(BUILD)/tests/unit/test-osi-profile
$(BUILD)/tests/unit/test-osi-profile: tests/unit/test-osi-profile.c tests/unit/unit.h \
		modules/osi_linux/profile.c modules/osi_linux/osi_linux.h
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -std=gnu11 -D_GNU_SOURCE -Imodules/osi_linux \
		$(PKG_CFLAGS) -o $@ $< modules/osi_linux/profile.c $(PKG_LIBS)
tests-build: $(BUILD)/tests/unit/test-osi-profile
# ... and its kallsyms reader (modules/lib/kernel_image.c).
UNIT_TESTS += $(BUILD)/tests/unit/test-osi-kallsyms
$(BUILD)/tests/unit/test-osi-kallsyms: tests/unit/test-osi-kallsyms.c tests/unit/unit.h \
		modules/lib/kernel_image.c modules/lib/kernel_image.h
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -std=gnu11 -D_GNU_SOURCE -Imodules/lib \
		$(PKG_CFLAGS) -o $@ $< modules/lib/kernel_image.c $(PKG_LIBS) \
		$(shell pkg-config --libs liblz4)
tests-build: $(BUILD)/tests/unit/test-osi-kallsyms
# ... and the names it gives workers (its source included, a fake guest).
OSI_LINUX_PKGS := glib-2.0 libbpf liblz4 libelf
UNIT_TESTS += $(BUILD)/tests/unit/test-osi-names
$(BUILD)/tests/unit/test-osi-names: tests/unit/test-osi-names.c tests/unit/unit.h \
		modules/osi_linux/osi_linux.c modules/osi_linux/kimage.c \
		modules/lib/kernel_image.c modules/osi_linux/profile.c \
		modules/osi_linux/osi_linux.h
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -std=gnu11 -D_GNU_SOURCE -Iinclude -Imodules/include \
		-Imodules/osi_linux -Imodules/lib $(shell pkg-config --cflags $(OSI_LINUX_PKGS)) \
		-o $@ $< modules/osi_linux/kimage.c modules/lib/kernel_image.c \
		modules/osi_linux/profile.c $(shell pkg-config --libs $(OSI_LINUX_PKGS))
tests-build: $(BUILD)/tests/unit/test-osi-names

# -- Python scripts (tests/integration/python*.t) ------------------------------
# pyimp imports a script's export; pyimp-badsig with the wrong signature.
PY_TEST_MODULES := $(TMOD)/pyimp.so $(TMOD)/pyimp-badsig.so
$(TMOD)/pyimp-badsig.so: tests/modules/pyimp.c include/modhost/module.h tests/tests.mk
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(TMOD_CFLAGS) -DPYIMP_BAD_SIG $(TMOD_LDFLAGS) -o $@ $<
tests-build: $(PY_TEST_MODULES)
