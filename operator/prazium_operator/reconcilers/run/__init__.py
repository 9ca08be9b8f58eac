"""The phases of a Run, one module each; runner.RunDriver sequences them.

Every phase is a set of plain functions over one RunContext (context.py), so a
phase reads top to bottom without a class hierarchy in between.
"""
