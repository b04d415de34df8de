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
ccflags-y :=
ldlibs-y :=
include $(M)/Makefile

ifeq ($(strip $(obj-m)),)
$(error $(M)/Makefile sets no obj-m (expected obj-m := NAME.so))
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
mh_all_objs := $(foreach m,$(obj-m),$(call mh_objs,$(m)))

.PHONY: modules
modules: $(addprefix $(MO)/,$(obj-m))

define mh_module_rule
$(MO)/$(1): $(call mh_objs,$(1))
	$$(call mh_say,LD,$$@)
	@mkdir -p $$(@D)
	$$(mh_q)$$(CC) $$(MH_LDFLAGS) $$(LDFLAGS) -o $$@ $$^ $$(ldlibs-y) $$(LDLIBS)
endef
$(foreach m,$(obj-m),$(eval $(call mh_module_rule,$(m))))

$(OBJDIR)/%.o: $(M)/%.c
	$(call mh_say,CC,$@)
	@mkdir -p $(@D)
	$(mh_q)$(CC) $(MH_CFLAGS) $(ccflags-y) $(CFLAGS) -c -o $@ $<

.PHONY: clean
clean:
	rm -f $(addprefix $(MO)/,$(obj-m)) $(mh_all_objs) $(mh_all_objs:.o=.d)

-include $(mh_all_objs:.o=.d)
