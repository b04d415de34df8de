#!/bin/bash
# Hypercalls, routes and guest control (hypercall.t) from an arm guest in Thumb state.
TARGET=thumb exec "$(dirname "$0")/../hypercall.t"
