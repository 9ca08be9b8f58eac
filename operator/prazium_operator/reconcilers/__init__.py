"""One reconciler package per resource: project/ (description -> approved spec, the
project's run bookkeeping) and run/ (a Run from pending to its final phase).

Each package keeps its decisions in pure functions over typed state (core.py,
unit-tested without a store) and its reads and writes of the apiserver, git and
the journal in the other modules; handlers/ only binds them to kopf.
"""
