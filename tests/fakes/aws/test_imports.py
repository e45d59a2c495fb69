"""fake_aws imports only what the stack's services need: moto's Batch (and with it all of EC2) waits until used."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_the_step_functions_interpreter_loads_without_ec2_and_batch_still_works_when_asked():
    # In a process of its own: what is imported is process-wide.
    script = textwrap.dedent("""
        import sys
        import fakes.fake_aws.server  # defers moto.batch before moto loads
        from fakes.fake_aws import lazy
        import moto.stepfunctions.parser.models  # the interpreter the bootstrap loads
        assert "moto.batch.utils" in sys.modules and not lazy.initialised(sys.modules["moto.batch"])
        assert "moto.ec2" not in sys.modules and "moto.batch.models" not in sys.modules
        from moto.backends import get_backend
        backend = get_backend("batch")["123456789012"]["us-east-1"]  # moto's registry asks the package for its backends
        assert lazy.initialised(sys.modules["moto.batch"]) and "moto.ec2" in sys.modules
        assert backend.describe_compute_environments(environments=[]) == []
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]


def test_fake_aws_serves_moto_without_importing_aiohttp():
    done = subprocess.run([sys.executable, "-c", "import sys, fakes.fake_aws.__main__; print('aiohttp' in sys.modules)"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr[-3000:]


def test_moto_reads_every_service_model_through_one_loader_with_its_extras():
    # moto made a new botocore Loader per model, and each listed botocore's whole data directory again.
    script = textwrap.dedent("""
        import botocore.loaders
        import fakes.fake_aws.server  # shares moto's loader
        from moto.core import utils
        listings = []
        real_listdir = botocore.loaders.os.listdir
        def counting_listdir(path):
            listings.append(path)
            return real_listdir(path)
        botocore.loaders.os.listdir = counting_listdir
        assert utils.create_loader() is utils.create_loader()
        sqs = utils.get_service_model("sqs")
        after_first = len(listings)
        for name in ("dynamodb", "sns", "secretsmanager", "stepfunctions"):
            utils.get_service_model(name)
        # the data directory is listed for the first model only; later ones open their own files
        assert after_first > 100 and len(listings) - after_first < 20, (after_first, len(listings))
        # moto's extras still merge into moto's copy (SQS answers its query protocol with result wrappers)
        assert sqs.metadata["protocols"] == ["json", "query"]
        assert sqs.operation_model("CreateQueue").output_shape.serialization.get("resultWrapper") == "CreateQueueResult"
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]
