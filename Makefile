# modhost: a QEMU TCG plugin that hosts hot-reloadable analysis modules.
#
#   make            build/modhost.so, build/modules/*.so, test guests
#   make check      install what is missing, build, run every test (prove)
#   make demo       install what is missing, build, show hot reload live
#   make bench      run the benchmarks, write build/bench/results.tsv
#   make linux-dbg  fetch the Linux guest kernel's -dbg package (System.map,
#                   vmlinux) into build/linux-dbg (tests using it skip without)
#   make soak       SOAK_CYCLES (10,000) reloads under load; QEMU's RSS, fds
#                   and mappings sampled (not part of check)
#   make check-asan the host under ASan/UBSan/LSan through a subset of the
#                   integration tests (check runs it too, as one test)
#   make check-fresh  as root: make check and make demo in a fresh Debian
#                   bookworm chroot (debootstrap, under build/fresh)
#   make abi-check  compare the headers' module ABI with abi/ (abi-update
#                   records an intended change; FORCE=1 even a breaking one)
#   make install PREFIX=DIR
#   make -C <this tree> M=$PWD     build an out-of-tree module

ifneq ($(M),)
# Out-of-tree module: the SDK rules, with this tree's headers (the host's
# ABI and the shipped modules' APIs, see MODHOST_INCLUDE_DIRS below).
MODHOST_TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
MODHOST_INCLUDE := $(MODHOST_TOP)/include $(MODHOST_TOP)/modules/include
# obj-q: the QEMU plugin API's declaration (installed as modhost/qemu-plugin.h).
MODHOST_QEMU_HEADER := $(MODHOST_TOP)/host/qemu/qemu-plugin.h
include $(dir $(lastword $(MAKEFILE_LIST)))tools/module.mk
else

BUILD := build
PREFIX ?= /usr/local
CC ?= cc
CFLAGS ?= -O2 -g -Wall -Wextra -Werror

ifneq ($(V),1)
Q := @
say = @printf '  %-7s %s\n' $(1) $(2)
else
Q :=
say = @:
endif

PKGS := glib-2.0 libelf libffi
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

# Public, installed headers, all into PREFIX/include/modhost/.  The host's
# ABI: the module ABI, the guest's hypercall header and the wire constants
# both sides share.  Host-private: host/internal.h, never installed.
# host/qemu/qemu-plugin.h, the QEMU plugin API the host calls, is also what
# QEMU plugin sources built with obj-q include: installed as
# modhost/qemu-plugin.h, with the compatibility layer in the SDK.
HEADERS := include/modhost/module.h include/modhost/guest.h \
	include/modhost/hypercall.h
# Each shipped module's API for other modules, versioned with its module
# (modules/include/modhost/; included as <modhost/NAME.h> all the same).
MODULE_HEADERS := modules/include/modhost/hypercaller.h \
	modules/include/modhost/callstack_instr.h \
	modules/include/modhost/stpi.h \
	modules/include/modhost/osi.h
# What an in-tree module build searches: both of the above.
MODHOST_INCLUDE_DIRS := $(CURDIR)/include $(CURDIR)/modules/include

HOST_SRCS := $(wildcard host/*.c)
HOST_OBJS := $(HOST_SRCS:%.c=$(BUILD)/%.o)
HOST_CFLAGS := $(CFLAGS) -std=gnu11 -D_GNU_SOURCE -fPIC -fvisibility=hidden -MMD -MP \
	-Iinclude $(PKG_CFLAGS)

# Every folder of modules/ is a module, but include/ (their API headers)
# and lib/ (sources modules compile in, such as symtab.c).
MODULES := $(filter-out include lib,$(notdir $(patsubst %/,%,$(wildcard modules/*/))))
MODULE_SOS := $(MODULES:%=$(BUILD)/modules/%.so)

all: $(BUILD)/modhost.so $(MODULE_SOS) tests-build

include tests/guest/guest.mk
include tests/tests.mk

$(BUILD)/modhost.so: $(HOST_OBJS) host/modhost.map
	$(call say,LD,$@)
	$(Q)$(CC) -shared -Wl,--version-script=host/modhost.map \
		-o $@ $(HOST_OBJS) $(PKG_LIBS) -ldl

# Plain QEMU plugin binaries (Documentation/qemu-plugins.rst): the
# compatibility layer as an object of its own, beside modhost.so.
QCOMPAT_BIN := $(BUILD)/qcompat-bin.so
all: $(QCOMPAT_BIN)
$(QCOMPAT_BIN): tools/qcompat/qcompat.c host/qemu/qemu-plugin.h \
		include/modhost/module.h
	$(call say,LD,$@)
	$(Q)$(CC) $(CFLAGS) -std=gnu11 -fPIC -shared -Wl,-z,defs -Wl,-Bsymbolic \
		-Iinclude -Ihost/qemu $(shell pkg-config --cflags glib-2.0) \
		-DMH_QCOMPAT_BINARY -DMH_QCOMPAT_NAME='"qemu_plugin"' -o $@ $< \
		$(shell pkg-config --libs glib-2.0)

$(BUILD)/host/%.o: host/%.c
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(HOST_CFLAGS) -c -o $@ $<

# The Python script engine (Documentation/python.rst): an object of its own
# that the host dlopens at the first NAME.py, so that QEMU and the host pay
# nothing for libpython otherwise.  It links the pure signature and name
# checks.
PY_PKG := $(firstword $(shell pkg-config --exists python3-embed 2>/dev/null && echo python3-embed))
ENGINE_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard host/python/*.c)) \
	$(BUILD)/host/signature.o $(BUILD)/host/params.o
$(BUILD)/host/python/%.o: HOST_CFLAGS += $(shell pkg-config --cflags $(PY_PKG) 2>/dev/null)
$(BUILD)/modhost-python.so: $(ENGINE_OBJS)
	$(call say,LD,$@)
	$(Q)$(CC) -shared -Wl,--no-undefined -o $@ $(ENGINE_OBJS) $(PKG_LIBS) \
		$(shell pkg-config --libs $(PY_PKG) 2>/dev/null) -ldl
all: $(if $(PY_PKG),$(BUILD)/modhost-python.so)

# Each shipped module is built by the SDK rules, exactly as a module
# author's would be.
$(BUILD)/modules/%.so: FORCE
	$(Q)$(MAKE) --no-print-directory -f tools/module.mk \
		M=modules/$* MO=$(BUILD)/modules OBJDIR=$(BUILD)/obj/modules/$* \
		MODHOST_INCLUDE='$(MODHOST_INCLUDE_DIRS)' MODHOST_WERROR=1

# modctl, the control socket's client.  "modctl info FILE.so" reads a
# module file offline with the host's own metadata reader: it links the
# pure host sources that the unit tests link.
MODCTL_SRCS := $(wildcard tools/modctl/*.c)
MODCTL_PKGS := $(PKGS) json-glib-1.0
# The control request parser's libFuzzer target (tests/fuzz/ctl-parse.t).
# It needs clang's libFuzzer; without it the target is not built and the
# test skips.
CTL_FUZZ := $(BUILD)/tests/fuzz/ctl-parse
FUZZ_CC ?= $(firstword $(shell command -v clang-14 clang 2>/dev/null))

all: $(BUILD)/bin/modctl $(if $(FUZZ_CC),$(CTL_FUZZ))

$(BUILD)/bin/modctl: $(MODCTL_SRCS) tools/modctl/modctl.h $(UNIT_HOST_SRCS) \
		host/internal.h
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -std=gnu11 -D_GNU_SOURCE -Iinclude -Ihost \
		$(shell pkg-config --cflags $(MODCTL_PKGS)) -o $@ \
		$(MODCTL_SRCS) $(UNIT_HOST_SRCS) \
		$(shell pkg-config --libs $(MODCTL_PKGS)) -ldl

$(CTL_FUZZ): tests/fuzz/ctl-parse.c host/ctlparse.c host/params.c host/internal.h
	$(call say,FUZZ,$@)
	@mkdir -p $(@D)
	$(Q)$(FUZZ_CC) -O1 -g -Wall -Wextra -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -std=gnu11 -D_GNU_SOURCE \
		-Iinclude -Ihost $(PKG_CFLAGS) -o $@ $(filter %.c,$^) $(PKG_LIBS) || \
		echo "  SKIP    $@: $(FUZZ_CC) cannot build a libFuzzer target"

install: install-modctl
install-modctl: $(BUILD)/bin/modctl
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BUILD)/bin/modctl $(DESTDIR)$(PREFIX)/bin/
.PHONY: install-modctl

# osi-profile: osi_linux's kernel profile of a kernel image, from the
# module's own kernel-image reader (modules/osi_linux/README.md).
OSI_PROFILE_SRCS := tools/osi-profile/osi-profile.c \
	modules/osi_linux/kimage.c modules/lib/kernel_image.c \
	modules/osi_linux/profile.c
OSI_PROFILE_PKGS := glib-2.0 libbpf liblz4 libelf
all: $(BUILD)/bin/osi-profile
$(BUILD)/bin/osi-profile: $(OSI_PROFILE_SRCS) modules/osi_linux/osi_linux.h
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -std=gnu11 -D_GNU_SOURCE -Imodules/osi_linux -Imodules/lib \
		$(shell pkg-config --cflags $(OSI_PROFILE_PKGS)) -o $@ \
		$(OSI_PROFILE_SRCS) $(shell pkg-config --libs $(OSI_PROFILE_PKGS))
install: install-osi-profile
install-osi-profile: $(BUILD)/bin/osi-profile
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BUILD)/bin/osi-profile $(DESTDIR)$(PREFIX)/bin/
.PHONY: install-osi-profile

deps:
	$(Q)tools/install-deps

check: deps
	$(Q)$(MAKE) --no-print-directory all $(ASAN_BUILD)/modhost.so
	$(Q)tests/run-all

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tools/demo

bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tests/bench/run-all

# The booted Linux kernel's debug package (System.map, vmlinux with DWARF),
# cached under build/linux-dbg/: tests and benchmarks that need it skip
# without it (tools/linux-dbg, Documentation/linux-guests.rst).
linux-dbg:
	$(Q)tools/linux-dbg

# Long soak (tests/soak/soak.sh, Documentation/hot-reload.rst): reload
# cycles under a hypercall stream and PPP traffic, QEMU's resident set held
# within 1 MB after warm-up.
SOAK_CYCLES ?= 10000
soak: deps
	$(Q)$(MAKE) --no-print-directory all
	@mkdir -p $(BUILD)/soak
	$(Q)SOAK_CYCLES=$(SOAK_CYCLES) SOAK_PPP=1 SOAK_RSS_SLACK_KB=1024 \
		SOAK_OUT=$(BUILD)/soak/samples.tsv nice prove -v tests/soak/soak.sh

# The host under AddressSanitizer and UndefinedBehaviorSanitizer, in a build
# dir of its own, run inside QEMU with the runtime preloaded through a subset
# of the integration tests (tests/soak/check-asan).  clang's shared runtime:
# QEMU is not instrumented, so the runtime must come first, by LD_PRELOAD.
ASAN_BUILD := build-asan
SAN_CC ?= clang
# Plain QEMU plugin binaries load through qcompat-bin.so beside modhost.so.
$(ASAN_BUILD)/qcompat-bin.so: $(QCOMPAT_BIN)
	@mkdir -p $(@D)
	$(Q)cp $< $@
$(ASAN_BUILD)/modhost.so: | $(ASAN_BUILD)/qcompat-bin.so
$(ASAN_BUILD)/modhost.so: $(HOST_SRCS) host/internal.h host/modhost.map
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(SAN_CC) -O1 -g -Wall -Wextra -Werror -fsanitize=address,undefined \
		-fno-omit-frame-pointer -shared-libasan -std=gnu11 -D_GNU_SOURCE \
		-fPIC -fvisibility=hidden -Iinclude $(PKG_CFLAGS) -shared \
		-Wl,--version-script=host/modhost.map -o $@ $(HOST_SRCS) \
		$(PKG_LIBS) -ldl

check-asan: deps
	$(Q)$(MAKE) --no-print-directory all $(ASAN_BUILD)/modhost.so
	$(Q)ASAN_SO=$(ASAN_BUILD)/modhost.so SAN_CC=$(SAN_CC) nice tests/soak/check-asan
# Not part of check: it downloads a Debian base system and runs check in it.
check-fresh:
	$(Q)tools/check-fresh
.PHONY: check-fresh

# The module ABI against its manifest (abi/, Documentation/abi.rst).
abi-check:
	$(Q)tools/abi-check

abi-update:
	$(Q)tools/abi-check --update $(if $(FORCE),--force)

SDKDIR = $(PREFIX)/lib/modhost/sdk

install: $(BUILD)/modhost.so $(QCOMPAT_BIN) $(MODULE_SOS)
	install -d $(DESTDIR)$(PREFIX)/lib/modhost/modules \
		$(DESTDIR)$(PREFIX)/include/modhost $(DESTDIR)$(SDKDIR) \
		$(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 0755 $(BUILD)/modhost.so $(QCOMPAT_BIN) \
		$(DESTDIR)$(PREFIX)/lib/modhost/
	$(if $(PY_PKG),install -m 0755 $(BUILD)/modhost-python.so $(DESTDIR)$(PREFIX)/lib/modhost/)
	install -m 0755 $(MODULE_SOS) $(DESTDIR)$(PREFIX)/lib/modhost/modules/
	install -m 0644 $(HEADERS) $(MODULE_HEADERS) \
		$(DESTDIR)$(PREFIX)/include/modhost/
	install -m 0644 host/qemu/qemu-plugin.h \
		$(DESTDIR)$(PREFIX)/include/modhost/qemu-plugin.h
	install -m 0644 tools/module.mk $(DESTDIR)$(SDKDIR)/module.mk
	install -d $(DESTDIR)$(SDKDIR)/qcompat
	install -m 0644 tools/qcompat/qcompat.c $(DESTDIR)$(SDKDIR)/qcompat/
	printf '%s\n' '# modhost SDK: make -C $(SDKDIR) M=$$PWD' \
		'MODHOST_INCLUDE := $(PREFIX)/include' \
		'include $$(dir $$(lastword $$(MAKEFILE_LIST)))module.mk' \
		> $(DESTDIR)$(SDKDIR)/Makefile
	sed -e 's|@PREFIX@|$(PREFIX)|g' \
		-e 's|@ABI@|$(shell sed -n 's/^#define MODHOST_ABI_MAJOR //p' include/modhost/module.h).$(shell sed -n 's/^#define MODHOST_ABI_MINOR //p' include/modhost/module.h)|g' \
		tools/modhost.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/modhost.pc

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)

FORCE:
.PHONY: all deps check demo bench install clean abi-check abi-update FORCE \
	soak check-asan linux-dbg

-include $(HOST_OBJS:.o=.d) $(ENGINE_OBJS:.o=.d)

endif
