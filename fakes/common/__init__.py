"""What every fake shares at its HTTP edge, written once (issue #11 adds the shared config reader here).

- :mod:`.web`   aiohttp (fake_cognito, fake_cell): the Origin/Host guard with CORS for allowed origins only,
                JSON bodies within limits, and JSON for the errors aiohttp answers before any middleware runs
- :mod:`.wsgi`  the same guard and JSON errors for moto's WSGI server (fake_aws)
- :mod:`.edge`  what both share (so moto never imports aiohttp)

The decisions themselves are pure and live in ``hippodrome_k8s.core`` (``origins``: who may call;
``jsonbody``: which bodies parse), the one part of Hippodrome the fakes import. Each fake keeps its own
error shape (Cognito's ``{"__type", "message"}``, Marqo's envelope): it passes an ``ErrorBody`` here.
"""
