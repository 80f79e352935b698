"""gunicorn reads this file from the directory it starts in (the project root).

Its access log (off unless ``--access-logfile`` is given) masks calendar-feed tokens and other
secrets in URLs, whatever ``--access-logformat`` says (clinic/logmask.py, docs/security.md).
"""

logger_class = "clinic.logmask.MaskingGunicornLogger"

# gunicorn's run-time control socket (under $HOME/.gunicorn) is not used; the image's and the
# systemd units' service user has no writable home, where it would log an error at every start.
control_socket_disable = True
