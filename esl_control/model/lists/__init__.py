"""Black and white lists (mutually exclusive per PBX) and client-number routing rules."""
