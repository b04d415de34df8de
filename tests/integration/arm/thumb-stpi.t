#!/bin/bash
# stpi and dwarfp on the thumb builds of the stpi guest (stpi-arm.t).
TARGET=thumb exec "$(dirname "$0")/../stpi-arm.t"
