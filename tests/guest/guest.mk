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
