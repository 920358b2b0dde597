"""Checking chipfleet's model against published measurements and vendor claims."""
