"""Built-in algorithms: one package each, all implementing the contract in :mod:`.base`."""
