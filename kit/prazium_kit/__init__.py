"""Prazium's shared kit: what the operator, the worker and the API all need.

Ids and names, paths on the repo volume, the Kubernetes client and resource
names, the custom resources' models, the event journal, the database schema,
log set-up, timestamps and the settings every process shares. Nothing here
imports prazium_operator or prazium_api: the kit is the bottom layer.
"""
