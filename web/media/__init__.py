"""Audio media of the PBXs: conversion tools (sox/lame), built-in melodies, signed URLs that
FreeSWITCH's mod_http_cache fetches, and HTTP delivery with Range/ETag support."""
