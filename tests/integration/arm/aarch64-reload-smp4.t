#!/bin/bash
# reload.t's whole cycle on an aarch64 guest with four vCPUs (reload-smp4.t).
TARGET=aarch64 SMP=4 exec "$(dirname "$0")/../reload.t"
