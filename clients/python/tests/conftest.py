"""A real refx-server for the Python client's tests: a throwaway development
PKI (refx-admin dev-pki), SQLite in a temporary directory, the LLR
partnership and agreement of the repository, port 0. The binaries come from
REFX_SERVER_BINARY / REFX_ADMIN_BINARY (CTest sets them) or build/."""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "clients", "python"))

from refx_client import Client, load_profile, pb  # noqa: E402


def _binary(variable, relative):
    path = os.environ.get(variable) or os.path.join(REPO, "build", relative)
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing: build first (scripts/build.sh) or set {variable}")
    return path


@pytest.fixture(scope="session")
def server():
    work = tempfile.mkdtemp(prefix="refx-python-")
    pki = os.path.join(work, "pki")
    subprocess.run([_binary("REFX_ADMIN_BINARY", "clients/admin/refx-admin"), "dev-pki", pki, "--partnership",
                    os.path.join(REPO, "config", "partnership.yaml")], check=True, capture_output=True)
    config = os.path.join(work, "server.yaml")
    with open(config, "w", encoding="utf-8") as f:
        f.write(f"""listen_address: 127.0.0.1:0
partnership_file: {REPO}/config/partnership.yaml
agreement_file: {REPO}/config/agreement.yaml
tls:
  server_cert_file: {pki}/server.pem
  server_key_file: {pki}/server.key
  client_ca_file: {pki}/agency-ca.pem
  revocation_list_file: {pki}/revocations.txt
storage:
  sqlite_path: {work}/data/refx.db
""")
    log = open(os.path.join(work, "server.log"), "w+", encoding="utf-8")
    process = subprocess.Popen([_binary("REFX_SERVER_BINARY", "server/refx-server"), "--config", config],
                               stdout=subprocess.DEVNULL, stderr=log)
    port = None
    deadline = time.time() + 20
    while port is None and time.time() < deadline:
        if process.poll() is not None:
            log.seek(0)
            pytest.fail(f"refx-server exited: {log.read()}")
        log.seek(0)
        match = re.search(r"serving on port (\d+)", log.read())
        port = int(match.group(1)) if match else None
        time.sleep(0.05)
    assert port, "refx-server did not report its port"
    yield {"port": port, "profiles": os.path.join(pki, "profiles.yaml"), "log": log.name}
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0


def client_for(server, agency, **kwargs):
    profile = load_profile(server["profiles"], agency)
    profile.server = f"localhost:{server['port']}"
    return Client(profile, acting_user=kwargs.pop("acting_user", "python-test"), **kwargs)


def valid_referral(recipient="leicester-city-council", area="leicester"):
    return pb.Referral(
        report_type=pb.HATE_CRIME,
        strands=[pb.Strand(strand="race", basis=pb.Strand.PERCEIVED)],
        perceived_by=pb.PERCEIVED_BY_VICTIM,
        reporting_channel=pb.REPORTING_CHANNEL_POLICE,
        area=area,
        incident_narrative="Racist abuse shouted at the victim at a bus stop.",
        victim=pb.Victim(given_name="Sam", family_name="Example", consent=pb.Consent(status=pb.Consent.GIVEN)),
        recipient_agencies=[f"agencies/{recipient}"])
