"""A private Dovecot for tests: own config, directories, port and log under a temporary folder.

Dovecot runs as root here but refuses to touch mail as root, so the mailbox belongs to the
``mail`` user; the temporary root is world-traversable because Dovecot's auth and imap
processes run as other users. Nothing listens anywhere but 127.0.0.1.

With ``tls=True`` the server also speaks TLS: a private CA and a server certificate for
``127.0.0.1``/``localhost`` are made with ``openssl`` at setup, the plain port offers
STARTTLS and an ``imaps`` listener does implicit TLS. Clients trust the server only through
``tls_ca_file`` (the CA is in no system store), which is how the "untrusted certificate"
case is tested too.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from relay.testing.server import free_port

CONFIG = """\
instance_name = {instance}
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
listen = 127.0.0.1
protocols = imap
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:~/Maildir
mail_fsync = never
first_valid_uid = {uid}
first_valid_gid = {gid}
imap_idle_notify_interval = 1 secs
mail_max_userip_connections = 200
default_vsz_limit = 512M
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Drafts {{
    special_use = \\Drafts
    auto = subscribe
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = subscribe
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
  }}
}}
service imap-urlauth-login {{
  inet_listener imap-urlauth {{
    port = 0
  }}
}}
"""

SSL_ON = """\
ssl = yes
ssl_cert = <{tls}/server.pem
ssl_key = <{tls}/server.key
ssl_min_protocol = TLSv1.2"""

SERVER_EXTENSIONS = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
"""


def make_test_ca(folder: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate it signed, for 127.0.0.1 and localhost.

    A CA plus a leaf (rather than one self-signed leaf) is what a company's private mail
    server has, and it is what strict verifiers (Python 3.13's ``VERIFY_X509_STRICT``)
    accept. Returns ``(ca.pem, server.pem, server.key)``.
    """
    folder.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        done = subprocess.run(["openssl", *args], capture_output=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"openssl {args[0]} failed: {done.stderr.decode(errors='replace')}")

    ca_key, ca, key, csr, crt = (
        folder / n for n in ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem")
    )
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl("req", "-x509", *ec, "-days", "3", "-subj", "/CN=Omnidesk Test CA",
            "-keyout", str(ca_key), "-out", str(ca),
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    openssl("req", *ec, "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(csr))
    ext = folder / "server.ext"
    ext.write_text(SERVER_EXTENSIONS)
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
            "-CAcreateserial", "-days", "3", "-extfile", str(ext), "-out", str(crt))  # fmt: skip
    return ca, crt, key


def dovecot_binary() -> str | None:
    return shutil.which("dovecot") or (
        "/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None
    )


@dataclass
class DovecotServer:
    root: Path
    port: int
    imaps_port: int = 0
    """The implicit-TLS listener's port; 0 (no listener) unless created with ``tls=True``."""
    user: str = "agent"
    password: str = "s3cret-pass"
    binary: str = "dovecot"
    instance: str = field(default_factory=lambda: f"omnidesk-test-{uuid.uuid4().hex[:8]}")

    @classmethod
    def create(cls, binary: str, *, tls: bool = False) -> DovecotServer:
        root = Path(tempfile.mkdtemp(prefix="omnidesk-dovecot-"))
        root.chmod(0o755)
        server = cls(root=root, port=free_port(), binary=binary)
        if tls:
            server.imaps_port = free_port()
            make_test_ca(server.tls_dir)
        server._prepare()
        return server

    @property
    def tls(self) -> bool:
        return self.imaps_port != 0

    @property
    def tls_dir(self) -> Path:
        return self.root / "tls"

    @property
    def tls_ca_file(self) -> Path:
        """The CA that signed the server certificate: what ``MailAccount.tls_ca_file`` names."""
        return self.tls_dir / "ca.pem"

    @property
    def config(self) -> Path:
        return self.root / "dovecot.conf"

    @property
    def home(self) -> Path:
        return self.root / "home" / self.user

    def _prepare(self) -> None:
        mail = pwd.getpwnam("mail")
        for sub in ("run", "state", "home"):
            (self.root / sub).mkdir(mode=0o755)
        users = self.root / "users"
        users.write_text(f"{self.user}:{{PLAIN}}{self.password}::::::\n")
        users.chmod(0o644)
        self.config.write_text(
            CONFIG.format(
                instance=self.instance,
                root=self.root,
                port=self.port,
                imaps_port=self.imaps_port,
                ssl=SSL_ON.format(tls=self.tls_dir) if self.tls else "ssl = no",
                uid=mail.pw_uid,
                gid=mail.pw_gid,
            )
        )
        for sub in ("cur", "new", "tmp"):
            (self.home / "Maildir" / sub).mkdir(parents=True)
        self._chown(self.home)

    def _chown(self, path: Path) -> None:
        mail = pwd.getpwnam("mail")
        for dirpath, _dirs, files in os.walk(path):
            os.chown(dirpath, mail.pw_uid, mail.pw_gid)
            for name in files:
                os.chown(os.path.join(dirpath, name), mail.pw_uid, mail.pw_gid)
        os.chown(path, mail.pw_uid, mail.pw_gid)

    # -- process ---------------------------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        # The daemon inherits stdout/stderr: give it files, never pipes (run() would wait on them).
        with open(self.root / "start.err", "ab") as err:
            done = subprocess.run(
                [self.binary, "-c", str(self.config)], stdin=subprocess.DEVNULL,
                stdout=err, stderr=err, check=False,
            )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"dovecot failed to start:\n{self._start_errors()}{self.log()}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    if sock.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"Dovecot did not start on port {self.port}:\n{self.log()}")

    def _start_errors(self) -> str:
        try:
            return (self.root / "start.err").read_text(errors="replace")
        except OSError:
            return ""

    def master_pid(self) -> int | None:
        try:
            return int((self.root / "run" / "master.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def _children(self, pid: int) -> list[int]:
        out = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if stat.rpartition(")")[2].split()[1] == str(pid):
                out.append(int(entry))
        return out

    @staticmethod
    def _alive(pid: int) -> bool:
        """Running (a zombie waiting for init to reap it counts as gone)."""
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return False
        return stat.rpartition(")")[2].split()[0] != "Z"

    def stop(self, grace: float = 0.2) -> None:
        """SIGTERM the master; whatever of *this* instance still runs after ``grace`` seconds
        (Dovecot's log process lingers about 2.5 s) is killed by pid."""
        pid = self.master_pid()
        if pid is None or not self._alive(pid):
            return
        pids = [pid, *self._children(pid)]
        os.kill(pid, 15)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(self._alive(p) for p in pids):
            time.sleep(0.02)
        for p in pids:
            try:
                os.kill(p, 9)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(self._alive(p) for p in pids):
            time.sleep(0.02)
        (self.root / "run" / "master.pid").unlink(missing_ok=True)

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        try:
            return (self.root / "dovecot.log").read_text(errors="replace")[-4000:]
        except OSError:
            return "(no log)"

    # -- mailbox ---------------------------------------------------------------------------

    def maildir(self, folder: str = "INBOX") -> Path:
        base = self.home / "Maildir"
        return base if folder == "INBOX" else base / ("." + folder.replace("/", "."))

    @contextlib.contextmanager
    def client(self, folder: str | None = "INBOX") -> Iterator[imaplib.IMAP4]:
        """Another mail program of the agent (or a colleague's) on the same mailbox, logged in
        and with ``folder`` selected (``None``: nothing selected)."""
        conn = imaplib.IMAP4("127.0.0.1", self.port)
        try:
            conn.login(self.user, self.password)
            if folder:
                conn.select(f'"{folder}"')
            yield conn
        finally:
            conn.logout()

    def deliver(self, raw: bytes, folder: str = "INBOX", *, seen: bool = False) -> Path:
        """Write a message straight into the Maildir, as a local delivery agent would."""
        box = self.maildir(folder)
        if not (box / "cur").exists():
            for sub in ("cur", "new", "tmp"):
                (box / sub).mkdir(parents=True, exist_ok=True)
            self._chown(box)
        name = f"{time.time_ns()}.{uuid.uuid4().hex}.omnidesk"
        tmp = box / "tmp" / name
        tmp.write_bytes(raw)
        mail = pwd.getpwnam("mail")
        os.chown(tmp, mail.pw_uid, mail.pw_gid)
        target = box / "cur" / f"{name}:2,S" if seen else box / "new" / name
        tmp.rename(target)
        return target

    def deliver_many(self, messages: list[bytes], folder: str = "INBOX") -> None:
        for raw in messages:
            self.deliver(raw, folder)
