#!/bin/bash
# callstack_instr against gdb-multiarch on the arm call-graph guest
# (callstack-gdb-arm.t).
TARGET=arm exec "$(dirname "$0")/../callstack-gdb-arm.t"
