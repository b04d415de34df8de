# stpi, dwarfp and dwarf_simple: test guests, the index query tool, the
# probe module.  -included at the end of tests/tests.mk.
#
# Guests: tests/stpi/sguest.c at -O0 and at -O2, with crt0.S and
# libguest.c from tests/guest/ built at the same level:
# - i386 multiboot kernels: build/tests/stpi/sguest-O0.elf, sguest-O2.elf;
# - x86_64 long-mode kernels (tests/guest/lm64-crt0.S, as guest.mk's lm64
#   guests): sguest64-O0.elf.64 and sguest64-O2.elf.64 are the ELF64 files
#   for dwarfp, addr2line and gdb; sguest64-O0.elf and sguest64-O2.elf the
#   same code in the ELF32 container QEMU's multiboot loader takes.

STPI_OUT := $(BUILD)/tests/stpi
STPI_GUEST_CFLAGS = -m32 -march=i686 -ffreestanding -fno-pic -fno-pie \
	-fno-stack-protector -fno-asynchronous-unwind-tables -nostdlib \
	-g -fdebug-prefix-map=$(CURDIR)=. -Wa,--debug-prefix-map,$(CURDIR)=. \
	-Wall -Wextra -Werror
STPI_LEVELS := O0 O2
STPI_GUESTS := $(STPI_LEVELS:%=$(STPI_OUT)/sguest-%.elf)

# $(STPI_OUT)/OPT/NAME.o from tests/stpi/NAME.c or tests/guest/NAME.{c,S}
$(STPI_OUT)/%.o: tests/stpi.mk tests/guest/libguest.h
	$(call say,GUEST,$@)
	@mkdir -p $(@D)
	$(Q)$(GUEST_CC) $(STPI_GUEST_CFLAGS) -$(patsubst $(STPI_OUT)/%,%,$(@D)) -c -o $@ \
		$(firstword $(wildcard tests/stpi/$(notdir $*).c tests/guest/$(notdir $*).c \
			tests/guest/$(notdir $*).S))

$(foreach l,$(STPI_LEVELS),$(STPI_OUT)/$(l)/sguest.o): tests/stpi/sguest.c
$(foreach l,$(STPI_LEVELS),$(STPI_OUT)/$(l)/libguest.o): tests/guest/libguest.c
$(foreach l,$(STPI_LEVELS),$(STPI_OUT)/$(l)/crt0.o): tests/guest/crt0.S

$(STPI_OUT)/sguest-%.elf: $(STPI_OUT)/%/crt0.o $(STPI_OUT)/%/sguest.o \
		$(STPI_OUT)/%/libguest.o tests/guest/link.ld
	$(call say,GUEST,$@)
	$(Q)$(GUEST_CC) $(GUEST_LDFLAGS) -o $@ $(filter %.o,$^)

STPI64_GUEST_CFLAGS = -m64 -mno-red-zone -mgeneral-regs-only -mcmodel=small \
	-ffreestanding -fno-pic -fno-pie -fno-stack-protector \
	-fno-asynchronous-unwind-tables -nostdlib -g -fdebug-prefix-map=$(CURDIR)=. \
	-Wa,--debug-prefix-map,$(CURDIR)=. \
	-Wall -Wextra -Werror \
	-Wno-int-to-pointer-cast
STPI64_GUESTS := $(STPI_LEVELS:%=$(STPI_OUT)/sguest64-%.elf)
STPI64_OBJS := $(foreach l,$(STPI_LEVELS), \
	$(addprefix $(STPI_OUT)/lm64-$(l)/,lm64-crt0.o sguest.o libguest.o))

# Explicit targets, so they win over the i386 pattern rule above.
$(STPI64_OBJS): tests/stpi.mk tests/guest/libguest.h
	$(call say,GUEST,$@)
	@mkdir -p $(@D)
	$(Q)$(GUEST_CC) $(STPI64_GUEST_CFLAGS) -$(subst lm64-,,$(notdir $(@D))) \
		-c -o $@ $(firstword $(wildcard tests/stpi/$(basename $(@F)).c \
			tests/guest/$(basename $(@F)).c tests/guest/$(basename $(@F)).S))
$(filter %/sguest.o,$(STPI64_OBJS)): tests/stpi/sguest.c
$(filter %/libguest.o,$(STPI64_OBJS)): tests/guest/libguest.c
$(filter %/lm64-crt0.o,$(STPI64_OBJS)): tests/guest/lm64-crt0.S

$(STPI_OUT)/sguest64-%.elf: $(STPI_OUT)/lm64-%/lm64-crt0.o \
		$(STPI_OUT)/lm64-%/sguest.o $(STPI_OUT)/lm64-%/libguest.o \
		tests/guest/lm64-link.ld
	$(call say,GUEST,$@)
	$(Q)$(GUEST_CC) $(LM64_LDFLAGS) -o $@.64 $(filter %.o,$^)
	$(Q)objcopy -I elf64-x86-64 -O elf32-i386 $@.64 $@

# Arm: the same guest at -O0 and -O2 for aarch64 and for arm in ARM and in
# Thumb state, on the Arm guests' start-up (tests/guest/arm/, guest.mk's
# compiler and linkers): build/tests/stpi/{a64,a32,t32}-sguest-O{0,2}.elf.
# The start-up has no debug information: clang's assembler would give it
# line rows but no function, where the x86 guests' has neither.
STPI_ARM_STATES := a64 a32 t32
STPI_ARM_GUESTS := $(foreach s,$(STPI_ARM_STATES),$(STPI_LEVELS:%=$(STPI_OUT)/$(s)-sguest-%.elf))
# (Thumb guests share the ARM-state start-up and libguest, as guest.mk's.)
STPI_ARM_OBJS := $(foreach s,a64 a32,$(foreach l,$(STPI_LEVELS), \
	$(addprefix $(STPI_OUT)/$(s)-$(l)/,crt0.o sguest.o libguest.o libguest-arm.o))) \
	$(STPI_LEVELS:%=$(STPI_OUT)/t32-%/sguest.o)
# $(call stpi_arm_flags,DIR): the compiler flags of objects in DIR (a64-O0 ...)
# DWARF 4: binutils 2.40's addr2line, the tests' reference, names the
# outer function for code inlined in clang's DWARF 5 (gdb and dwarfp name
# the inlined one).
stpi_arm_flags = $(filter-out -O2,$($(call stpi_arm_up,$(firstword $(subst -, ,$(1))))_CFLAGS)) \
	-$(lastword $(subst -, ,$(1))) -gdwarf-4 -fdebug-prefix-map=$(CURDIR)=.
stpi_arm_up = $(if $(filter a64,$(1)),A64,$(if $(filter a32,$(1)),A32,T32))
$(STPI_ARM_OBJS): tests/stpi.mk tests/guest/libguest.h tests/guest/guest.mk
	$(call say,GUEST,$@)
	@mkdir -p $(@D)
	$(Q)$(ARM_CC) $(call stpi_arm_flags,$(notdir $(@D))) $(if $(filter crt0.o,$(@F)),-g0) -c -o $@ \
		$(firstword $(wildcard tests/stpi/$(basename $(@F)).c \
			tests/guest/$(basename $(@F)).c tests/guest/arm/$(basename $(@F)).c \
			$(if $(filter crt0.o,$(@F)),tests/guest/arm/$(if $(filter a64-%,$(notdir $(@D))),a64,a32)-crt0.S)))
$(filter %/sguest.o,$(STPI_ARM_OBJS)): tests/stpi/sguest.c
$(filter %/libguest.o,$(STPI_ARM_OBJS)): tests/guest/libguest.c
$(filter %/libguest-arm.o,$(STPI_ARM_OBJS)): tests/guest/arm/libguest-arm.c
$(STPI_OUT)/a64-sguest-%.elf: $(addprefix $(STPI_OUT)/a64-%/,crt0.o sguest.o libguest.o libguest-arm.o) \
		tests/guest/arm/link.ld
	$(call say,GUEST,$@)
	$(Q)$(A64_LD) $(ARM_LDFLAGS) -o $@ $(filter %.o,$^)
$(STPI_OUT)/a32-sguest-%.elf: $(addprefix $(STPI_OUT)/a32-%/,crt0.o sguest.o libguest.o libguest-arm.o) \
		tests/guest/arm/link.ld
	$(call say,GUEST,$@)
	$(Q)$(A32_LD) $(ARM_LDFLAGS) -o $@ $(filter %.o,$^)
$(STPI_OUT)/t32-sguest-%.elf: $(STPI_OUT)/t32-%/sguest.o \
		$(addprefix $(STPI_OUT)/a32-%/,crt0.o libguest.o libguest-arm.o) \
		tests/guest/arm/link.ld
	$(call say,GUEST,$@)
	$(Q)$(A32_LD) $(ARM_LDFLAGS) -o $@ $(filter %.o,$^)
tests-build: $(if $(ARM_TOOLS),$(STPI_ARM_GUESTS))

# dwarfp's index without QEMU (tests/integration/stpi-addr2line.t, bench).
DWARFP_SRCS := $(addprefix modules/dwarfp/,index.c dies.c elfsrc.c lines.c addrmap.c eval.c bare.c) \
	modules/lib/symtab.c modules/lib/kernel_image.c
$(STPI_OUT)/dwarfp-query: tests/stpi/dwarfp-query.c $(DWARFP_SRCS) \
		modules/dwarfp/dwarfp.h modules/dwarfp/index.h modules/lib/symtab.h \
		modules/include/modhost/stpi.h
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -std=gnu11 -D_GNU_SOURCE -Iinclude -Imodules/include -Imodules/lib \
		$(shell pkg-config --cflags glib-2.0) -o $@ $(filter %.c,$^) \
		-ldwarf $(shell pkg-config --libs glib-2.0 libelf liblz4)

# The probe: a stpi client that logs what it is told (tests/integration/stpi*.t).
$(TMOD)/stpi_probe.so: tests/stpi/stpi_probe.c include/modhost/module.h \
		modules/include/modhost/stpi.h
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(TMOD_CFLAGS) $(TMOD_LDFLAGS) -o $@ $<

tests-build: $(STPI_GUESTS) $(STPI64_GUESTS) $(STPI_OUT)/dwarfp-query \
	$(TMOD)/stpi_probe.so

# dwarfp's pc -> line and function map on made-up rows (its packing's limits).
$(BUILD)/tests/unit/test-dwarfp-pcmap: tests/unit/test-dwarfp-pcmap.c tests/unit/unit.h \
		$(DWARFP_SRCS) modules/dwarfp/dwarfp.h modules/dwarfp/index.h
	$(call say,CC,$@)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -std=gnu11 -D_GNU_SOURCE -Iinclude -Imodules/include \
		-Imodules/lib $(shell pkg-config --cflags glib-2.0 libelf) -o $@ $< \
		$(DWARFP_SRCS) -ldwarf $(shell pkg-config --libs glib-2.0 libelf liblz4)
tests-build: $(BUILD)/tests/unit/test-dwarfp-pcmap
