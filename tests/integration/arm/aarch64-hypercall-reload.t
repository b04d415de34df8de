#!/bin/bash
# 100 reloads of a hypercall handler under calls (hypercall-reload.t), aarch64 guest.
TARGET=aarch64 exec "$(dirname "$0")/../hypercall-reload.t"
