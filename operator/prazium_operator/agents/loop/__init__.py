"""The coding-agent loop of the `openai` and `anthropic` coders: the model works on the
task's worktree through tools (list_files, read_file, search, write_file, edit_file,
run, finish) until the task's own tests pass, within bounds.

Modules: ``coder`` (LoopCoder: the Coder), ``driver`` (the loop itself), ``model`` (what
a provider adapter offers: agents/openai/tools_client.py, agents/anthropic/tools_client.py),
``tools`` (the file tools and every tool's definition), ``commands`` (the run tool's
sandbox), ``credentials`` (the key out of reach of commands), ``bounds`` (steps, time,
output, stuck loops), ``usage`` (tokens, cost, budget, stop file), ``limits`` (settings,
PRAZIUM_AGENT_*), ``attempt`` (what the worker hands in and gets back), ``prompts``
(and which tests a task owns), ``transcript`` (the log lines), ``contract`` (the worker
contract's shapes, from prazium_operator.worker_contract).
"""
