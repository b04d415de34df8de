#!/bin/bash
# Dependencies and their order (deps.t) with an aarch64 guest.
TARGET=aarch64 exec "$(dirname "$0")/../deps.t"
