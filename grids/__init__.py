"""Grids shipped with zoo: demo (the README main job), tiny (smoke tests), paper (the full protocol)."""
