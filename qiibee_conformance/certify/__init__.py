"""Certification: the contract suite runner, its pytest plugin, config and reports."""
