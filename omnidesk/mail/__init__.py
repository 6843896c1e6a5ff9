"""What the console knows about email as a format, without any I/O.

Parsing, threading, subjects, HTML sanitising, building replies and the values they share.
Both ``omnidesk.services.mail`` (IMAP/SMTP) and ``omnidesk.storage`` (the cache) build on it.
"""
