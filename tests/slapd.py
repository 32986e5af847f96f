"""A real OpenLDAP ``slapd`` for tests: a temp directory, a free port, the mdb backend.

    with Slapd(tmp_path) as ldap:            # suffix dc=example,dc=org, rootdn cn=admin,...
        ldap.add_people(people)              # [{"uid", "cn", "mail", ...}] under ou=people
        ldap.rename("uid=a,ou=people,...", "uid=b")   # modrdn
        ldap.kill()                          # the server going away (SIGKILL)

Skipped with a reason when ``slapd`` is not installed (Debian: slapd, ldap-utils; scripts/setup.sh).
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterable, Mapping

import pytest

SLAPD = shutil.which("slapd") or ("/usr/sbin/slapd" if os.path.exists("/usr/sbin/slapd") else None)
SCHEMA_DIR = Path("/etc/ldap/schema")
MODULE_DIR = next((p for p in ("/usr/lib/ldap", "/usr/lib/openldap", "/usr/libexec/openldap")
                   if os.path.isdir(p)), None)
SUFFIX = "dc=example,dc=org"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PW = "admin-secret"
PEOPLE = f"ou=people,{SUFFIX}"


def require_slapd() -> None:
    if not SLAPD or not (SCHEMA_DIR / "inetorgperson.schema").exists():
        pytest.skip("OpenLDAP slapd is not installed (apt-get install slapd ldap-utils; scripts/setup.sh)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_tls(directory: Path) -> tuple[str, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 / localhost: (CA PEM text, cert file, key file)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Pult test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = directory / "server.pem", directory / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    (directory / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return ca.public_bytes(serialization.Encoding.PEM).decode(), cert_file, key_file


class Slapd:
    def __init__(self, root: Path, *, tls: bool = False):
        require_slapd()
        self.root = Path(root) / "slapd"
        self.port = _free_port()
        self.url = f"ldap://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.ca_pem: str | None = None
        self.ldaps_port: int | None = None
        if tls:  # StartTLS on the ldap:// port, and an ldaps:// port
            self.ca_pem, self._cert, self._key = make_tls(self.root / "tls")
            self.ldaps_port = _free_port()

    # --- lifecycle
    def _config(self) -> Path:
        (self.root / "db").mkdir(parents=True, exist_ok=True)
        conf = self.root / "slapd.conf"
        lines = [f"include {SCHEMA_DIR}/{s}.schema" for s in ("core", "cosine", "inetorgperson")]
        if MODULE_DIR:
            lines += [f"modulepath {MODULE_DIR}", "moduleload back_mdb"]
        if self.ca_pem:
            lines += [f"TLSCACertificateFile {self.root}/tls/ca.pem", f"TLSCertificateFile {self._cert}",
                      f"TLSCertificateKeyFile {self._key}"]
        lines += [f"pidfile {self.root}/slapd.pid", "database mdb", "maxsize 104857600",
                  f'suffix "{SUFFIX}"', f'rootdn "{ROOT_DN}"', f"rootpw {ROOT_PW}",
                  f"directory {self.root}/db", "index objectClass eq",
                  # users read the directory only after a bind, and each may bind as itself
                  "access to attrs=userPassword by anonymous auth by * none",
                  "access to * by users read by anonymous auth"]
        conf.write_text("\n".join(lines) + "\n")
        return conf

    def start(self) -> "Slapd":
        conf = self._config()
        base = (f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n"
                f"dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n")
        if not (self.root / "db" / "data.mdb").exists():
            subprocess.run(["slapadd", "-f", str(conf)], input=base.encode(), check=True, capture_output=True)
        # -d 0: stay in the foreground (a child we can kill), log nothing
        urls = self.url + (f" ldaps://127.0.0.1:{self.ldaps_port}" if self.ldaps_port else "")
        self.proc = subprocess.Popen([SLAPD, "-f", str(conf), "-h", urls, "-d", "0"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2):
                    return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("slapd exited at start")
                time.sleep(0.05)
        raise RuntimeError("slapd did not start listening")

    def kill(self) -> None:
        """SIGKILL: the server goes away without a goodbye."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> "Slapd":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- data (ldap3 as the directory's administrator)
    def admin(self):
        import ldap3

        return ldap3.Connection(ldap3.Server("127.0.0.1", port=self.port), ROOT_DN, ROOT_PW, auto_bind=True,
                                raise_exceptions=True)

    @staticmethod
    def dn(uid: str) -> str:
        return f"uid={uid},{PEOPLE}"

    def add_people(self, people: Iterable[Mapping[str, str]]) -> None:
        conn = self.admin()
        try:
            for p in people:
                attrs = {k: v for k, v in p.items() if k != "uid" and v not in (None, "")}
                attrs.setdefault("sn", p.get("cn", p["uid"]).split()[-1])
                conn.add(self.dn(p["uid"]), ["inetOrgPerson"], attrs)
        finally:
            conn.unbind()

    def modify(self, uid: str, changes: Mapping[str, str | None]) -> None:
        import ldap3

        conn = self.admin()
        try:
            conn.modify(self.dn(uid), {k: [(ldap3.MODIFY_REPLACE, [v] if v else [])] for k, v in changes.items()})
        finally:
            conn.unbind()

    def rename(self, uid: str, new_uid: str) -> None:
        """modrdn: the entry gets a new DN (its entryUUID stays)."""
        conn = self.admin()
        try:
            conn.modify_dn(self.dn(uid), f"uid={new_uid}")
        finally:
            conn.unbind()

    def delete(self, uid: str) -> None:
        conn = self.admin()
        try:
            conn.delete(self.dn(uid))
        finally:
            conn.unbind()
