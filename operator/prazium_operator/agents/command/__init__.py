"""The ``command`` agent: a coder that runs any coding-agent CLI on the task's files.

The command is untrusted, so it runs through :mod:`prazium_operator.sandbox`
(scrubbed environment; locally a private copy under a uid of its own, in a worker
Pod the Pod itself). It plans nothing: a Project's planner is another agent.
"""

from prazium_operator.agents.command.coder import CommandCoder, CommandCoderError

__all__ = ["CommandCoder", "CommandCoderError"]
