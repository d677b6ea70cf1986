"""ticktide_writer."""
