#!/bin/bash
# The aarch64 test guests run under the host (guests.t).
TARGET=aarch64 exec "$(dirname "$0")/../guests.t"
