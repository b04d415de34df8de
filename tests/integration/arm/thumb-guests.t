#!/bin/bash
# The thumb test guests run under the host (guests.t).
TARGET=thumb exec "$(dirname "$0")/../guests.t"
