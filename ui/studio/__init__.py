"""The admin Studio's editors: the branching dialog as a graph (branching_editor.py) and the
Try it dialog that runs the scenario being edited on the practice engine (try_it.py)."""
