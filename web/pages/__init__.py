"""Server-rendered cabinet pages (templates in web/templates/)."""
