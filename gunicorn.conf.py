"""gunicorn reads this file from the directory it starts in (the project root).

Its access log (off unless ``--access-logfile`` is given) masks calendar-feed tokens and other
secrets in URLs, whatever ``--access-logformat`` says (clinic/logmask.py, docs/security.md).
"""

logger_class = "clinic.logmask.MaskingGunicornLogger"
