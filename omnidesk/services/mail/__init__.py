"""E-mail for the console over the network: IMAP sync and push, SMTP send, the accounts.

No Qt here; the format itself (parsing, threading, replies) is :mod:`omnidesk.mail`, and the
cache is reached only through the :class:`~omnidesk.mail.sink.MailSink` protocol.
"""
