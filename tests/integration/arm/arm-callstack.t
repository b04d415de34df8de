#!/bin/bash
# callstack_instr on the arm call-graph guest (callstack-arm.t).
TARGET=arm exec "$(dirname "$0")/../callstack-arm.t"
