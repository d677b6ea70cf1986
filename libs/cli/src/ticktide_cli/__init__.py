"""ticktide_cli."""
