# modhost module build rules (kbuild style).
#
#   make -C <modhost tree or installed SDK dir> M=$PWD
#
# builds each "NAME.so" listed in obj-m of $(M)/Makefile, from NAME.o or
# from the objects in NAME-y.  The module's Makefile may also set
# ccflags-y (extra compiler flags) and ldlibs-y (extra libraries).
# MODHOST_INCLUDE must name the directory that holds modhost/module.h
# (an installed SDK: PREFIX/include), or several directories, searched in
# order (the source tree: include/ for the host's ABI headers and
# modules/include/ for the shipped modules' API headers).
#
# Optional: MO (where the .so goes, default $(M)), OBJDIR (objects,
# default $(M)), V=1 (show commands), MODHOST_WERROR=1.
# NAME-targets := x86_64 i386: the QEMU targets module NAME serves (the
# metadata key "targets", which the host checks before any of the
# module's code runs; without it a module serves every target).  Same as
# MH_INFO("targets", "x86_64,i386") in a source file.
#
# QEMU plugins: "obj-q := NAME.so" (and NAME-y) builds an unmodified QEMU
# TCG plugin source into module NAME (Documentation/qemu-plugins.rst).  Its
# sources include <qemu-plugin.h> or <qemu/qemu-plugin.h>: MODHOST_QEMU_HEADER
# (the SDK's copy of the API's declaration), reached through links in
# $(OBJDIR)/.qemu-include.  The compatibility layer ($(MODHOST_SDK)/qcompat)
# is compiled into each one; a function it does not implement is an
# undefined reference that -z defs turns into a link error naming it.
# Optional: NAME-version, NAME-license (metadata; default 0, NOASSERTION).
# The plugin's sources are compiled with MODHOST_QCOMPAT defined: what only
# the module has (modhost_save_state/restore_state) goes under #ifdef.

ifeq ($(M),)
$(error M= is not set: use make -C <modhost sdk> M=$$PWD)
endif
ifeq ($(MODHOST_INCLUDE),)
$(error MODHOST_INCLUDE is not set)
endif

M := $(abspath $(M))
MO ?= $(M)
OBJDIR ?= $(M)
override MO := $(abspath $(MO))
override OBJDIR := $(abspath $(OBJDIR))

# The module's Makefile looks at MODHOST_SDK to know it is read by us.
MODHOST_SDK := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
obj-m :=
obj-q :=
ccflags-y :=
ldlibs-y :=
include $(M)/Makefile

ifeq ($(strip $(obj-m) $(obj-q)),)
$(error $(M)/Makefile sets no obj-m or obj-q (expected obj-m := NAME.so))
endif

ifneq ($(V),1)
mh_q := @
mh_say = @printf '  %-7s %s\n' $(1) $(2)
else
mh_q :=
mh_say = @:
endif

CC ?= cc
MH_CFLAGS := -O2 -g -Wall -Wextra $(if $(MODHOST_WERROR),-Werror) -fPIC \
	-fvisibility=hidden -MMD -MP $(addprefix -I,$(MODHOST_INCLUDE))
MH_LDFLAGS := -shared -Wl,-z,defs -Wl,--as-needed

mh_objs = $(addprefix $(OBJDIR)/,$(or $($(1:.so=-y)),$(1:.so=.o)))
mh_all_objs := $(foreach m,$(obj-m) $(obj-q),$(call mh_objs,$(m)))
mh_qlayer_obj = $(OBJDIR)/.qcompat-$(1:.so=).o
mh_qlayer_objs := $(foreach m,$(obj-q),$(call mh_qlayer_obj,$(m)))
mh_targets_obj = $(if $(strip $($(1:.so=-targets))),$(OBJDIR)/.targets-$(1:.so=).o)
mh_targets_objs := $(foreach m,$(obj-m) $(obj-q),$(call mh_targets_obj,$(m)))
mh_comma := ,
mh_empty :=
mh_space := $(mh_empty) $(mh_empty)

.PHONY: modules
modules: $(addprefix $(MO)/,$(obj-m) $(obj-q))

define mh_module_rule
$(MO)/$(1): $(call mh_objs,$(1)) $(call mh_targets_obj,$(1))
	$$(call mh_say,LD,$$@)
	@mkdir -p $$(@D)
	$$(mh_q)$$(CC) $$(MH_LDFLAGS) $$(LDFLAGS) -o $$@ $$^ $$(ldlibs-y) $$(LDLIBS)
endef
$(foreach m,$(obj-m),$(eval $(call mh_module_rule,$(m))))

# NAME-targets as one metadata entry, in an object of its own.
define mh_targets_rule
$(call mh_targets_obj,$(1)): $(M)/Makefile
	$$(call mh_say,GEN,$$@)
	@mkdir -p $$(@D)
	$$(mh_q)printf '#include <modhost/module.h>\nMH_INFO("targets", "%s");\n' \
		'$(subst $(mh_space),$(mh_comma),$(strip $($(1:.so=-targets))))' | \
		$$(CC) $$(MH_CFLAGS) $$(CFLAGS) -x c -c -o $$@ -
endef
$(foreach m,$(obj-m) $(obj-q),$(if $(call mh_targets_obj,$(m)),$(eval $(call mh_targets_rule,$(m)))))

ifneq ($(strip $(obj-q)),)
MODHOST_QEMU_HEADER ?= $(firstword $(wildcard \
	$(addsuffix /modhost/qemu-plugin.h,$(MODHOST_INCLUDE))))
ifeq ($(MODHOST_QEMU_HEADER),)
$(error no modhost/qemu-plugin.h under MODHOST_INCLUDE: set MODHOST_QEMU_HEADER)
endif
MH_QINC := $(OBJDIR)/.qemu-include
MH_QLAYER := $(MODHOST_SDK)/qcompat/qcompat.c
MH_GLIB_CFLAGS := $(shell pkg-config --cflags glib-2.0)
MH_GLIB_LIBS := $(shell pkg-config --libs glib-2.0)

# Both spellings QEMU plugins use, one header behind them.
$(MH_QINC)/qemu-plugin.h $(MH_QINC)/qemu/qemu-plugin.h: $(MODHOST_QEMU_HEADER)
	@mkdir -p $(@D)
	$(mh_q)ln -sf $(abspath $<) $@

# -Bsymbolic: the layer's calls to qemu_plugin_install() reach this
# plugin's, whatever else the process has loaded.
define mh_qplugin_rule
$(call mh_objs,$(1)): MH_CFLAGS += -I$(MH_QINC) $(MH_GLIB_CFLAGS) -DMODHOST_QCOMPAT=1
$(call mh_objs,$(1)): | $(MH_QINC)/qemu-plugin.h $(MH_QINC)/qemu/qemu-plugin.h
$(call mh_qlayer_obj,$(1)): $(MH_QLAYER) $(MH_QINC)/qemu-plugin.h
	$$(call mh_say,CC,$$@)
	@mkdir -p $$(@D)
	$$(mh_q)$$(CC) $$(MH_CFLAGS) -I$(MH_QINC) $(MH_GLIB_CFLAGS) \
		-DMH_QCOMPAT_NAME='"$(1:.so=)"' \
		$$(if $$($(1:.so=-version)),-DMH_QCOMPAT_VERSION='"$$($(1:.so=-version))"') \
		$$(if $$($(1:.so=-license)),-DMH_QCOMPAT_LICENSE='"$$($(1:.so=-license))"') \
		$$(CFLAGS) -c -o $$@ $$<
$(MO)/$(1): $(call mh_objs,$(1)) $(call mh_qlayer_obj,$(1)) $(call mh_targets_obj,$(1))
	$$(call mh_say,LD,$$@)
	@mkdir -p $$(@D)
	$$(mh_q)$$(CC) $$(MH_LDFLAGS) -Wl,-Bsymbolic $$(LDFLAGS) -o $$@ $$^ \
		$$(ldlibs-y) $(MH_GLIB_LIBS) $$(LDLIBS)
endef
$(foreach m,$(obj-q),$(eval $(call mh_qplugin_rule,$(m))))
endif

$(OBJDIR)/%.o: $(M)/%.c
	$(call mh_say,CC,$@)
	@mkdir -p $(@D)
	$(mh_q)$(CC) $(MH_CFLAGS) $(ccflags-y) $(CFLAGS) -c -o $@ $<

.PHONY: clean
clean:
	rm -f $(addprefix $(MO)/,$(obj-m) $(obj-q)) $(mh_all_objs) \
		$(mh_all_objs:.o=.d) $(mh_qlayer_objs) $(mh_qlayer_objs:.o=.d) \
		$(mh_targets_objs) $(mh_targets_objs:.o=.d)
	rm -rf $(OBJDIR)/.qemu-include

-include $(mh_all_objs:.o=.d) $(mh_qlayer_objs:.o=.d)
