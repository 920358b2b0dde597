"""Alembic migrations of the run store, shipped in the package and run by :func:`chipfleet.store.open_store`."""
