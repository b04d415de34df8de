#!/bin/bash
# Guest control's names and flood in the log (guest-log.t), aarch64 guest.
TARGET=aarch64 exec "$(dirname "$0")/../guest-log.t"
