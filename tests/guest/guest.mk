# Test guests: freestanding 32-bit multiboot kernels booted by QEMU with
# -kernel.  Included from the top-level Makefile, which defines BUILD and Q.
#
# To add a guest, write tests/guest/NAME.c (defining kmain) and add
# $(BUILD)/tests/guest/NAME.elf to GUEST_ELFS.

GUEST_CC ?= $(CC)
GUEST_CFLAGS := -m32 -march=i686 -ffreestanding -fno-pic -fno-pie \
	-fno-stack-protector -fno-asynchronous-unwind-tables -nostdlib \
	-O2 -g -Wall -Wextra -Werror
GUEST_LDFLAGS := -m32 -nostdlib -static -no-pie \
	-Wl,-T,tests/guest/link.ld -Wl,--build-id=none

GUEST_ELFS := $(BUILD)/tests/guest/spin.elf $(BUILD)/tests/guest/bench.elf \
	$(BUILD)/tests/guest/tight.elf

# A static pattern rule: the objects are then explicit prerequisites, so
# make does not delete them as intermediates after linking.
$(GUEST_ELFS): $(BUILD)/tests/guest/%.elf: $(BUILD)/tests/guest/crt0.o \
		$(BUILD)/tests/guest/%.o $(BUILD)/tests/guest/libguest.o \
		tests/guest/link.ld
	$(if $(Q),@echo "  GUEST   $@")
	$(Q)$(GUEST_CC) $(GUEST_LDFLAGS) -o $@ $(filter %.o,$^)

$(BUILD)/tests/guest/%.o: tests/guest/%.c tests/guest/libguest.h \
		tests/guest/guest.mk
	$(if $(Q),@echo "  GUEST   $@")
	@mkdir -p $(@D)
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) -c -o $@ $<

$(BUILD)/tests/guest/%.o: tests/guest/%.S tests/guest/guest.mk
	$(if $(Q),@echo "  GUEST   $@")
	@mkdir -p $(@D)
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) -c -o $@ $<

# -- x86_64 (long mode) guests ----------------------------------------------
# tests/guest/NAME.c built for x86_64 as $(BUILD)/tests/guest/lm64-NAME.elf:
# lm64-crt0.S enters long mode and calls the same kmain(); libguest.c is
# rebuilt for x86_64.  Linked as ELF64, then converted to ELF32, the only
# kind QEMU's multiboot loader takes.  To add one, add its lm64-NAME.elf to
# LM64_GUEST_ELFS and GUEST_ELFS.
LM64_OBJ := $(BUILD)/tests/guest/lm64
LM64_CFLAGS := -m64 -mno-red-zone -mgeneral-regs-only -mcmodel=small \
	-ffreestanding -fno-pic -fno-pie -fno-stack-protector \
	-fno-asynchronous-unwind-tables -nostdlib -O2 -g -Wall -Wextra -Werror \
	-Wno-int-to-pointer-cast -Iinclude
LM64_LDFLAGS := -m64 -nostdlib -static -no-pie \
	-Wl,-T,tests/guest/lm64-link.ld -Wl,--build-id=none -Wl,-z,max-page-size=4096

$(LM64_OBJ)/%.o: tests/guest/%.c tests/guest/libguest.h tests/guest/guest.mk
	$(if $(Q),@echo "  GUEST   $@")
	@mkdir -p $(@D)
	$(Q)$(GUEST_CC) $(LM64_CFLAGS) -c -o $@ $<

$(LM64_OBJ)/%.o: tests/guest/%.S tests/guest/guest.mk
	$(if $(Q),@echo "  GUEST   $@")
	@mkdir -p $(@D)
	$(Q)$(GUEST_CC) $(LM64_CFLAGS) -c -o $@ $<

LM64_GUEST_ELFS := $(BUILD)/tests/guest/lm64-hcall.elf \
	$(BUILD)/tests/guest/lm64-csthunk.elf $(BUILD)/tests/guest/lm64-csind.elf
$(LM64_GUEST_ELFS): $(BUILD)/tests/guest/lm64-%.elf: $(LM64_OBJ)/lm64-crt0.o \
		$(LM64_OBJ)/%.o $(LM64_OBJ)/libguest.o tests/guest/lm64-link.ld
	$(if $(Q),@echo "  GUEST   $@")
	$(Q)$(GUEST_CC) $(LM64_LDFLAGS) -o $@.64 $(filter %.o,$^)
	$(Q)objcopy -I elf64-x86-64 -O elf32-i386 $@.64 $@

# -- hypercall guests (tests/integration/hypercall*.t) -------------------------
HC_GUEST_ELFS := $(BUILD)/tests/guest/hcall.elf
GUEST_ELFS += $(HC_GUEST_ELFS) $(LM64_GUEST_ELFS)
$(HC_GUEST_ELFS): $(BUILD)/tests/guest/%.elf: $(BUILD)/tests/guest/crt0.o \
		$(BUILD)/tests/guest/%.o $(BUILD)/tests/guest/libguest.o \
		tests/guest/link.ld
	$(if $(Q),@echo "  GUEST   $@")
	$(Q)$(GUEST_CC) $(GUEST_LDFLAGS) -o $@ $(filter %.o,$^)
$(BUILD)/tests/guest/hcall.o $(LM64_OBJ)/hcall.o: include/modhost/guest.h \
	include/modhost/hypercall.h tests/guest/hcall-pattern.h
$(BUILD)/tests/guest/hcall.o: GUEST_CFLAGS += -Iinclude

# -- callstack_instr guests (tests/integration/callstack*.t, make bench) -------
CS_GUEST_ELFS := $(BUILD)/tests/guest/callgraph.elf $(BUILD)/tests/guest/csrec.elf \
	$(BUILD)/tests/guest/csthunk.elf $(BUILD)/tests/guest/csind.elf
GUEST_ELFS += $(CS_GUEST_ELFS)
$(CS_GUEST_ELFS): $(BUILD)/tests/guest/%.elf: $(BUILD)/tests/guest/crt0.o \
		$(BUILD)/tests/guest/%.o $(BUILD)/tests/guest/libguest.o \
		tests/guest/link.ld
	$(if $(Q),@echo "  GUEST   $@")
	$(Q)$(GUEST_CC) $(GUEST_LDFLAGS) -o $@ $(filter %.o,$^)
# Every C call a call instruction: the test's expected call graph says so.
$(BUILD)/tests/guest/callgraph.o $(BUILD)/tests/guest/csthunk.o: \
	GUEST_CFLAGS += -fno-optimize-sibling-calls
$(LM64_OBJ)/csthunk.o: LM64_CFLAGS += -fno-optimize-sibling-calls

# -- Arm guests (tests/guest/arm/, -M virt) ------------------------------------
# The same guest programs for aarch64 (a64-NAME.elf), arm in ARM state
# (a32-NAME.elf) and arm in Thumb state (t32-NAME.elf): arm/*-crt0.S and
# arm/libguest-arm.c stand for crt0.S and the x86 half of libguest.c.
# Compiled by clang for the target, linked by the cross binutils
# (tools/install-deps).  A later issue's guests (callstack_instr, stpi)
# join by adding NAME to ARM_GUEST_PROGS; objects come from
# tests/guest/NAME.c, tests/guest/arm/NAME.c or tests/guest/arm/NAME.S.
ARM_GUEST_PROGS := spin hcall tight callgraph csrec
ARM_CC ?= clang
ARM_COMMON_CFLAGS := -ffreestanding -fno-pic -fno-pie -fno-stack-protector \
	-fno-asynchronous-unwind-tables -fno-unwind-tables -nostdlib -O2 -g \
	-Wall -Wextra -Werror -Wno-int-to-pointer-cast -Iinclude
A64_CFLAGS := --target=aarch64-none-elf -mgeneral-regs-only $(ARM_COMMON_CFLAGS)
A32_CFLAGS := --target=armv7a-none-eabi -mcpu=cortex-a15 -mfloat-abi=soft \
	-marm $(ARM_COMMON_CFLAGS)
T32_CFLAGS := $(filter-out -marm,$(A32_CFLAGS)) -mthumb
A64_LD ?= aarch64-linux-gnu-ld
A32_LD ?= arm-linux-gnueabihf-ld
T32_LD ?= $(A32_LD)
ARM_LDFLAGS := -nostdlib -static -T tests/guest/arm/link.ld --build-id=none \
	-z max-page-size=4096 -z noexecstack
ARM_OBJ := $(BUILD)/tests/guest/arm

# $(call arm_state_rules,STATE,FLAGS,LIB): objects of state STATE (a64,
# a32, t32) compiled with $(FLAGS), and its guests linked with the crt0 and
# libguest of state LIB (Thumb guests use the ARM-state ones).
define arm_state_rules
$(ARM_OBJ)/$(1)/%.o: tests/guest/%.c tests/guest/libguest.h tests/guest/guest.mk
	$$(if $$(Q),@echo "  GUEST   $$@")
	@mkdir -p $$(@D)
	$$(Q)$$(ARM_CC) $$($(2)_CFLAGS) -c -o $$@ $$<
$(ARM_OBJ)/$(1)/%.o: tests/guest/arm/%.c tests/guest/libguest.h tests/guest/guest.mk
	$$(if $$(Q),@echo "  GUEST   $$@")
	@mkdir -p $$(@D)
	$$(Q)$$(ARM_CC) $$($(2)_CFLAGS) -c -o $$@ $$<
$(ARM_OBJ)/$(1)/%.o: tests/guest/arm/%.S tests/guest/guest.mk
	$$(if $$(Q),@echo "  GUEST   $$@")
	@mkdir -p $$(@D)
	$$(Q)$$(ARM_CC) $$($(2)_CFLAGS) -c -o $$@ $$<
$(BUILD)/tests/guest/$(1)-%.elf: $(ARM_OBJ)/$(3)/$(3)-crt0.o $(ARM_OBJ)/$(1)/%.o \
		$(ARM_OBJ)/$(3)/libguest.o $(ARM_OBJ)/$(3)/libguest-arm.o \
		tests/guest/arm/link.ld
	$$(if $$(Q),@echo "  GUEST   $$@")
	$$(Q)$$($(2)_LD) $$(ARM_LDFLAGS) -o $$@ $$(filter %.o,$$^)
$(ARM_OBJ)/$(1)/hcall.o: include/modhost/guest.h include/modhost/hypercall.h \
	tests/guest/hcall-pattern.h
# Every C call a call instruction, as for x86.
$(ARM_OBJ)/$(1)/callgraph.o: $(2)_CFLAGS += -fno-optimize-sibling-calls
endef
$(eval $(call arm_state_rules,a64,A64,a64))
$(eval $(call arm_state_rules,a32,A32,a32))
$(eval $(call arm_state_rules,t32,T32,a32))
$(ARM_OBJ)/a64/libguest-arm.o $(ARM_OBJ)/a32/libguest-arm.o: include/modhost/hypercall.h
# callgraph's hand-written functions, per instruction set.
$(BUILD)/tests/guest/a64-callgraph.elf: $(ARM_OBJ)/a64/callgraph-a64.o
$(BUILD)/tests/guest/a32-callgraph.elf: $(ARM_OBJ)/a32/callgraph-a32.o
$(BUILD)/tests/guest/t32-callgraph.elf: $(ARM_OBJ)/t32/callgraph-a32.o

ARM_GUEST_ELFS := $(foreach s,a64 a32 t32,$(ARM_GUEST_PROGS:%=$(BUILD)/tests/guest/$(s)-%.elf))
# Without clang or the cross binutils (tools/install-deps installs them)
# the Arm guests are left out, and the tests that need them skip.
ARM_TOOLS := $(and $(shell command -v $(ARM_CC)),$(shell command -v $(A64_LD)),\
	$(shell command -v $(A32_LD)))
GUEST_ELFS += $(if $(ARM_TOOLS),$(ARM_GUEST_ELFS))
.PRECIOUS: $(ARM_OBJ)/a64/%.o $(ARM_OBJ)/a32/%.o $(ARM_OBJ)/t32/%.o

# -- a guest making hypercalls on every vCPU (tests/integration/python-smp.t) --
GUEST_ELFS += $(BUILD)/tests/guest/smp.elf
$(BUILD)/tests/guest/smp.elf: $(BUILD)/tests/guest/crt0.o \
		$(BUILD)/tests/guest/smp.o $(BUILD)/tests/guest/libguest.o \
		tests/guest/link.ld
	$(if $(Q),@echo "  GUEST   $@")
	$(Q)$(GUEST_CC) $(GUEST_LDFLAGS) -o $@ $(filter %.o,$^)
$(BUILD)/tests/guest/smp.o: include/modhost/guest.h include/modhost/hypercall.h
$(BUILD)/tests/guest/smp.o: GUEST_CFLAGS += -Iinclude
