"""The Run reconciler: driver.RunDriver sequences the phases, one module each
(admission, decomposition, scheduler + tasks, integrate, finish), over one
RunContext (context.py); core.py holds their decisions as pure functions.

Every phase is a set of plain functions over the context, so a phase reads top
to bottom without a class hierarchy in between.
"""
