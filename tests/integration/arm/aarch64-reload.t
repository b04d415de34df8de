#!/bin/bash
# Load, reload with state handoff, rollback and unload (reload.t) on an aarch64 guest.
TARGET=aarch64 exec "$(dirname "$0")/../reload.t"
