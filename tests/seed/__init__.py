"""Tests of the seed data loaders."""
