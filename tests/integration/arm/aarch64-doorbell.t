#!/bin/bash
# The doorbell answered from a one-block loop (doorbell.t) on an aarch64 guest.
TARGET=aarch64 exec "$(dirname "$0")/../doorbell.t"
