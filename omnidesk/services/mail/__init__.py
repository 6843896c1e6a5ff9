"""E-mail for the console: parse, thread, compose, IMAP sync and SMTP send.

No Qt here; storage is reached only through the :class:`~.sink.MailSink` protocol.
"""
