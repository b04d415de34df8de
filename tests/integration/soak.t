#!/bin/bash
# 200 reloads of hcrec, alternating two builds, under a stream of routed
# hypercalls at -smp 4, with prov and cons reloaded under PPP traffic as
# well: every hypercall the guest made reached hcrec exactly once, every
# reload succeeded, no fd leaked.  `make soak` runs the same for 10,000
# cycles (tests/soak/soak.sh).
SOAK_CYCLES=${SOAK_CYCLES:-200} SOAK_PPP=1 exec "$(dirname "$0")/../soak/soak.sh"
