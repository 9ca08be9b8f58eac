//go:build tools

// Package tools pins the commands scripts/build-node.sh builds for the local node:
// containerd 2 (containerd, its runc shim and ctr).
// Never compiled (the tools tag); it keeps their modules in go.mod and go.sum.
package tools

import (
	_ "github.com/containerd/containerd/v2/cmd/containerd"
	_ "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2"
	_ "github.com/containerd/containerd/v2/cmd/ctr"
)
