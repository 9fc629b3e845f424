"""A stand-in for PYNQ's Overlay, MMIO, allocate and AXI DMA, for plume's tests: every
register access and DMA transfer goes to `plume feather serve` (the AXI-wrapped FEATHER on
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
    def transfer(self, buf):
        with tempfile.NamedTemporaryFile(delete=False) as f:
            f.write(bytes(buf))
        try:
            _call("SEND %s" % f.name)
        finally:
            os.unlink(f.name)

    def wait(self):
        pass


class _Recv:
    def __init__(self):
        self.buf = None

    def transfer(self, buf):
        self.buf = buf

    def wait(self):
        _, out_bytes = _call("INFO")
        beats = len(self.buf) // int(out_bytes)
        path = tempfile.mktemp()
        try:
            _call("RECV %d %s" % (beats, path))
            with open(path, "rb") as f:
                self.buf[:] = f.read()
        finally:
            if os.path.exists(path):
                os.unlink(path)


class _Ip:
    def __init__(self):
        self.mmio = MMIO()


class _Dma:
    def __init__(self):
        self.sendchannel = _Send()
        self.recvchannel = _Recv()


class Overlay:
    def __init__(self, bitfile):
        self.bitfile = bitfile
        self.accel = _Ip()
        self.dma = _Dma()
