#!/bin/bash
# callstack_instr on the thumb call-graph guest (callstack-arm.t).
TARGET=thumb exec "$(dirname "$0")/../callstack-arm.t"
