"""The SIP worker's Django edges: the model-backed directory, the event sink, the command.

``sipcore`` reads the platform's data only through ``sipcore.directory.Directory`` and reports
through ``sipcore.events.EventSink``; this app implements both over the ORM, the channel layer
and Celery, and runs ``sipcore.worker.SipWorker`` as ``manage.py sipworker``.
"""
