"""Tests of deepguard.store (a package, so its helper modules cannot clash)."""
