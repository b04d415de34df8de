#!/bin/bash
# stpi and dwarfp on the aarch64 builds of the stpi guest (stpi-arm.t).
TARGET=aarch64 exec "$(dirname "$0")/../stpi-arm.t"
