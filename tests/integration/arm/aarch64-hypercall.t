#!/bin/bash
# Hypercalls, routes and guest control (hypercall.t) from an aarch64 guest.
TARGET=aarch64 exec "$(dirname "$0")/../hypercall.t"
