"""The status rules of each kind, one module per kind (project, run, task).

Each kind module holds ONE table from phase to what that phase means for the
kstatus conditions (Ready / Reconciling / Stalled), the condition reason, the
Kubernetes Event and the journal event, and the helpers that write a phase into a
typed status model (prazium_kit.models). conditions.py builds the condition list.
"""
