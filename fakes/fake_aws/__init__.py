"""fake_aws: the moto server plus a bootstrap of the stack's declared AWS resources.

Runs as the service named ``moto`` in the stack (port 9003).  ``/healthz``
answers 200 only once every declared resource exists, so the layer gate keeps
layer 1 from starting against a half-made AWS.
"""
