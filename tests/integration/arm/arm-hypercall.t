#!/bin/bash
# Hypercalls, routes and guest control (hypercall.t) from an arm guest in ARM state.
TARGET=arm exec "$(dirname "$0")/../hypercall.t"
