"""Tests for chipfleet.workloads."""
