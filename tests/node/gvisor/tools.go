//go:build tools

// Package tools pins the commands scripts/build-node.sh builds for the local node:
// gVisor's runsc and its containerd shim.
// Never compiled (the tools tag); it keeps their modules in go.mod and go.sum.
package tools

import (
	_ "gvisor.dev/gvisor/runsc"
	_ "gvisor.dev/gvisor/shim"
)
