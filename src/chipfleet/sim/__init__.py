"""Discrete-event simulation of a fleet: request-level serving, job-level training clusters."""
