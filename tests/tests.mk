# Test programs: the counter module's variants, the dependency modules,
# unit tests.  Included from the top-level Makefile.

TMOD := $(BUILD)/tests/modules
TMOD_CFLAGS := -O2 -g -Wall -Wextra -Werror -fPIC -fvisibility=hidden -Iinclude
TMOD_LDFLAGS := -shared -Wl,-z,defs

ABI_MAJOR := $(shell sed -n 's/^\#define MODHOST_ABI_MAJOR //p' include/modhost/module.h)
ABI_MINOR := $(shell sed -n 's/^\#define MODHOST_ABI_MINOR //p' include/modhost/module.h)

# variant name -> compiler flags
counter_v1_FLAGS := -DCOUNTER_VERSION='"1"'
counter_v2_FLAGS := -DCOUNTER_VERSION='"2"'
counter_v3_FLAGS := -DCOUNTER_VERSION='"3"'
counter_initfail_FLAGS := -DCOUNTER_VERSION='"initfail"' -DCOUNTER_INIT_FAIL
counter_crash_FLAGS := -DCOUNTER_VERSION='"crash"' -DCOUNTER_INIT_CRASH
counter_abimajor_FLAGS := -DCOUNTER_VERSION='"abimajor"' \
	-DCOUNTER_ABI_MAJOR=$(shell echo $$(($(ABI_MAJOR) + 1)))
counter_abiminor_FLAGS := -DCOUNTER_VERSION='"abiminor"' \
	-DCOUNTER_ABI_MINOR=$(shell echo $$(($(ABI_MINOR) + 1)))
COUNTER_VARIANTS := v1 v2 v3 initfail crash abimajor abiminor

TEST_MODULES := $(COUNTER_VARIANTS:%=$(TMOD)/counter-%.so) \
	$(TMOD)/dep_base.so $(TMOD)/dep_user.so $(TMOD)/probe.so

$(TMOD)/counter-%.so: tests/modules/counter.c include/modhost/module.h tests/tests.mk
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(TMOD_CFLAGS) $(counter_$*_FLAGS) $(TMOD_LDFLAGS) -o $@ $<

$(TMOD)/%.so: tests/modules/%.c include/modhost/module.h
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(TMOD_CFLAGS) $(TMOD_LDFLAGS) -o $@ $<

# Unit tests link the host's pure parts directly.
UNIT_TESTS := $(BUILD)/tests/unit/test-meta $(BUILD)/tests/unit/test-params
UNIT_HOST_SRCS := host/loader.c host/params.c

$(BUILD)/tests/unit/test-%: tests/unit/test-%.c tests/unit/unit.h $(UNIT_HOST_SRCS) host/internal.h
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -std=gnu11 -D_GNU_SOURCE -Iinclude -Ihost $(PKG_CFLAGS) -o $@ \
		$< $(UNIT_HOST_SRCS) $(PKG_LIBS) -ldl

tests-build: $(GUEST_ELFS) $(TEST_MODULES) $(UNIT_TESTS)
.PHONY: tests-build
