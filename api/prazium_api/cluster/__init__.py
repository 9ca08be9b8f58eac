"""The custom resources as the API reads and writes them, typed (prazium_kit.kinds):
apiserver access with the contract's error codes and spec writes through the spec
models (crs), the watch-fed read cache (informer), finding a tenant's objects by
API id (lookup), waiting for the operator (sync), Runs pruned to the run archive
(history), names of new objects (naming)."""
