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
	$(BUILD)/tests/guest/lm64-csthunk.elf
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
	$(BUILD)/tests/guest/csthunk.elf
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

# -- a guest making hypercalls on every vCPU (tests/integration/python-smp.t) --
GUEST_ELFS += $(BUILD)/tests/guest/smp.elf
$(BUILD)/tests/guest/smp.elf: $(BUILD)/tests/guest/crt0.o \
		$(BUILD)/tests/guest/smp.o $(BUILD)/tests/guest/libguest.o \
		tests/guest/link.ld
	$(if $(Q),@echo "  GUEST   $@")
	$(Q)$(GUEST_CC) $(GUEST_LDFLAGS) -o $@ $(filter %.o,$^)
$(BUILD)/tests/guest/smp.o: include/modhost/guest.h include/modhost/hypercall.h
$(BUILD)/tests/guest/smp.o: GUEST_CFLAGS += -Iinclude
