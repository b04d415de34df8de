#!/bin/bash
# The arm test guests run under the host (guests.t).
TARGET=arm exec "$(dirname "$0")/../guests.t"
