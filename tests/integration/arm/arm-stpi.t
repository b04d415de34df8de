#!/bin/bash
# stpi and dwarfp on the arm builds of the stpi guest (stpi-arm.t).
TARGET=arm exec "$(dirname "$0")/../stpi-arm.t"
