#!/bin/bash
# The whole reload cycle of reload.t again with four vCPUs (MTTCG): a
# quiesce must stop every vCPU thread, halted or running.
SMP=4 exec "$(dirname "$0")/reload.t"
