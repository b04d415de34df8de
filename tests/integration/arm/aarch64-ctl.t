#!/bin/bash
# modctl and the control socket (ctl.t) with an aarch64 guest.
TARGET=aarch64 exec "$(dirname "$0")/../ctl.t"
