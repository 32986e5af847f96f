"""SIP domains (≤ 3 per PBX), SIP accounts (encrypted passwords + a1-hash) and the SIP IP whitelist."""
