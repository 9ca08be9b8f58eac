"""The egress proxy: the only way from a worker Pod to the network (README, Security)."""
