"""Employees' telephony: extension, contact methods, reception mode, outgoing number, directions."""
