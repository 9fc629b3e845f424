"""A stand-in for PYNQ's Overlay, MMIO, allocate and AXI DMA, for plume's tests: every
register access and DMA transfer goes to `plume serve` (the AXI-wrapped design on
plume's cycle simulator, driven through its bus-functional models). The command that starts
the server is the JSON list in PLUME_SIM_SERVER."""

import json
import os
import subprocess
import tempfile

_server = None


def _call(line):
    global _server
    if _server is None:
        _server = subprocess.Popen(json.loads(os.environ["PLUME_SIM_SERVER"]),
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    _server.stdin.write(line + "\n")
    _server.stdin.flush()
    reply = _server.stdout.readline().strip()
    if not reply.startswith("OK"):
        raise RuntimeError("simulated hardware: %s (after %r)" % (reply, line))
    return reply.split()[1:]


class MMIO:
    def read(self, offset):
        value, resp = _call("R %d" % offset)
        if resp != "0":
            raise RuntimeError("read of 0x%x answered %s" % (offset, resp))
        return int(value)

    def write(self, offset, value):
        (resp,) = _call("W %d %d" % (offset, value))
        if resp != "0":
            raise RuntimeError("write of 0x%x answered %s" % (offset, resp))


class _Buffer(bytearray):
    physical_address = 0

    def flush(self):
        pass

    def invalidate(self):
        pass

    def freebuffer(self):
        pass


def allocate(shape, dtype="u1"):
    if dtype not in ("u1", "uint8"):
        raise ValueError("the stand-in allocates bytes only")
    n = shape[0] if isinstance(shape, tuple) else shape
    return _Buffer(n)


class _Send:
    def __init__(self, recv):
        self.recv = recv

    def transfer(self, buf):
        """MM2S. With an S2MM transfer pending, both run at once (XFER), as on the board."""
        with tempfile.NamedTemporaryFile(delete=False) as f:
            f.write(bytes(buf))
        try:
            if self.recv.buf is None:
                _call("SEND %s" % f.name)
            else:
                self.recv.run("XFER %s" % f.name)
        finally:
            os.unlink(f.name)

    def wait(self):
        pass


class _Recv:
    def __init__(self):
        self.buf = None

    def transfer(self, buf):
        self.buf = buf

    def run(self, command):
        _, out_bytes = _call("INFO")
        beats = len(self.buf) // int(out_bytes)
        path = tempfile.mktemp()
        try:
            _call("%s %d %s" % (command, beats, path))
            with open(path, "rb") as f:
                self.buf[:] = f.read()
        finally:
            self.buf = None
            if os.path.exists(path):
                os.unlink(path)

    def wait(self):
        if self.buf is not None:
            self.run("RECV")


class _Ip:
    def __init__(self):
        self.mmio = MMIO()


class _Dma:
    def __init__(self):
        self.recvchannel = _Recv()
        self.sendchannel = _Send(self.recvchannel)


class Overlay:
    def __init__(self, bitfile):
        self.bitfile = bitfile
        self.accel = _Ip()
        self.dma = _Dma()
