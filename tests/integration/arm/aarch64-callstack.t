#!/bin/bash
# callstack_instr on the aarch64 call-graph guest (callstack-arm.t).
TARGET=aarch64 exec "$(dirname "$0")/../callstack-arm.t"
