"""Test support: the real server as a subprocess, and the reference schema as the judge."""
