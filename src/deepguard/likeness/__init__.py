"""Likeness registry: protected people's faces and voices, and matching them."""
