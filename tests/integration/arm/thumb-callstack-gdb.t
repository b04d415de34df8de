#!/bin/bash
# callstack_instr against gdb-multiarch on the thumb call-graph guest
# (callstack-gdb-arm.t).
TARGET=thumb exec "$(dirname "$0")/../callstack-gdb-arm.t"
