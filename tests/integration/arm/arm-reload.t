#!/bin/bash
# Load, reload with state handoff, rollback and unload (reload.t) on an arm guest.
TARGET=arm exec "$(dirname "$0")/../reload.t"
