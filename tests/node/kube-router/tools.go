//go:build tools

// Package tools pins the commands scripts/build-node.sh builds for the local node:
// kube-router (its NetworkPolicy firewall).
// Never compiled (the tools tag); it keeps their modules in go.mod and go.sum.
package tools

import (
	_ "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router"
)
