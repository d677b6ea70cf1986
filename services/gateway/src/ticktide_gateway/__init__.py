"""ticktide_gateway."""
