"""Numbers (lines): platform DIDs from the operator's pool, passive and active SIP numbers of other
operators, comments, transfer between PBXs of one account, the active scheme of each number."""
