"""PBX-wide call-handling and security settings (one document per PBX)."""
