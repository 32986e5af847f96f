"""The cabinet page and REST API of the LDAP directory sync (issue 13)."""
