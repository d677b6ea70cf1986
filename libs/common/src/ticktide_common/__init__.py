"""ticktide_common."""
