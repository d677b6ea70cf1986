"""The strategy pages: `/strategies` (the user's and the system strategies, and
the editor of a new one), `/strategies/<id>` (one version in the editor, and
"Run a grid" of it): views; what the editor and the grid form read and show is
in editor and grid."""

from __future__ import annotations

from ticktide_web.pages.strategies.views import router

__all__ = ["router"]
