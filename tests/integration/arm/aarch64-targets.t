#!/bin/bash
# Modules for other targets refused (targets.t) on an aarch64 guest.
TARGET=aarch64 exec "$(dirname "$0")/../targets.t"
