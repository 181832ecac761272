"""The admin Studio's editors: the branching dialog as a graph (branching_editor.py)."""
