import sys

from examples.common.web import run

from .app import make_app

sys.exit(run(make_app, default_port=9007))
