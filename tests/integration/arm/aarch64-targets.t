#!/bin/bash
# Modules for other targets refused (targets.t) on an aarch64 guest:
# stpi and dwarfp among them.
TARGET=aarch64 exec "$(dirname "$0")/../targets.t"
