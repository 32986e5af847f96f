"""SIP trunks to customers' own PBXs, and the PBX's ordered list of trunk masks."""
