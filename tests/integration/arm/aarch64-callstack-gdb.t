#!/bin/bash
# callstack_instr against gdb-multiarch on the aarch64 call-graph guest
# (callstack-gdb-arm.t).
TARGET=aarch64 exec "$(dirname "$0")/../callstack-gdb-arm.t"
