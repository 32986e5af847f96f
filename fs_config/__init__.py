"""Pult's answers to FreeSWITCH's mod_xml_curl: directory, dialplan and configuration.

Mount :func:`routes` in the Tornado application; plug tenant data in through :class:`Providers`.
The XML builders (:mod:`fs_config.directory`, :mod:`fs_config.dialplan`,
:mod:`fs_config.configuration`, the whitelist converter :mod:`esl_control.routing.acl`) are pure functions
over plain dataclasses.
"""
from fs_config.http import CDR_PATH, PATH, CdrHandler, XmlCurlHandler, cdr_routes, routes
from fs_config.providers import Provider, Providers, by_conf_name, not_served
from fs_config.request import XmlCurlRequest
from fs_config.xml import NOT_FOUND_XML, XmlBuildError

__all__ = ["CDR_PATH", "CdrHandler", "cdr_routes", "PATH", "NOT_FOUND_XML", "Provider", "Providers", "XmlBuildError", "XmlCurlHandler",
           "XmlCurlRequest", "by_conf_name", "not_served", "routes"]
