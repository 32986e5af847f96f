"""Schemes: one tree document per scheme (time blocks -> steps -> menus -> nested blocks)."""
