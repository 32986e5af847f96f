"""txfax / rxfax: a T.30 fax between two legs, with the spandsp events FreeSWITCH fires.

No audio is modulated: the transmitting leg (``txfax``) and the receiving leg
(``rxfax``) of one call (a loopback pair, or two bridged legs) meet, and the
simulated fax runs through the phases the ``inbound_fax`` trace shows, in
simulated time: negotiation (phase B, ``spandsp::txfaxnegociateresult`` then
``rxfaxnegociateresult``), one page result per page (phase D, receiver
first), and the result (phase E, ``rxfaxresult`` when the last page is in;
``txfaxresult`` once the transmitter's call has ended). Every value the
events carry is also set as a ``fax_*`` channel variable, in FreeSWITCH's order.

A calling fax machine at the far end of a call (``Call.send_fax``: not a leg of this switch)
sends its calling tone (CNG) from then on and transmits when ``rxfax`` starts on the call.
``spandsp_start_fax_detect <app> <arg> [<timeout>] [<tone type>]`` arms mod_spandsp's tone
detector on a channel: on a CNG it fires DETECTED_TONE (``Detected-Fax-Tone: true`` before the
channel's headers) and queues ``<app> <arg>`` (run after the current application, as
``switch_core_session_execute_application_async`` does); the detector then stops, but its slot
stays taken until ``spandsp_stop_fax_detect`` (a second start logs "Max Tones Reached!").

``rxfax`` writes a real TIFF at its path (through ``sim.local_path``): a copy
of the transmitted file when the simulator can read it, else a blank bilevel
page of the negotiated size, so a job that converts received faxes
(tiff2pdf, ghostscript) gets a valid file either way.
"""

from __future__ import annotations

import asyncio
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

from .channel import Channel

#: spandsp T.30 completion codes used here (t30.h: T30_ERR_OK, _FILEERROR, _CALLDROPPED).
RESULT_OK = (0, "OK")
RESULT_FILE_ERROR = (41, "TIFF/F file cannot be opened")
RESULT_CALL_DROPPED = (49, "The call dropped prematurely")

#: Simulated seconds between the phases, as recorded (start → B: 5.1 s, B → D: 8.7 s, D → E: 1.2 s).
PHASE_B_SECONDS = 5.1
RX_NEGOTIATE_LAG = 2.2
PHASE_D_SECONDS = 6.5
TX_PAGE_LAG = 1.1
PHASE_E_SECONDS = 1.2

#: The T.30 "fine" resolution as spandsp reports it (pixels per metre) and the recorded page.
FINE_RESOLUTION = (8040, 7700)
RECORDED_PAGE_BYTES = 826  # T.85 size of the recorded A4 page (1728 x 2292)


@dataclass
class FaxDocument:
    """What the transmitter sends: pages, page size in pixels, the file's resolution (pixels/metre)."""

    pages: int = 1
    width: int = 1728
    length: int = 2292
    file_resolution: tuple[int, int] = (8031, 7716)  # 204 x 196 dpi
    path: Path | None = None  # the readable local file, if any

    @property
    def image_size(self) -> int:
        """Coded page size: not computed (T.85 coding is not simulated), the recorded page's scaled by area."""
        return max(1, RECORDED_PAGE_BYTES * self.width * self.length // (1728 * 2292))


def _rational(data: bytes, offset: int, endian: str) -> float:
    num, den = struct.unpack_from(endian + "II", data, offset)
    return num / den if den else 0.0


def read_tiff(path: Path) -> FaxDocument:
    """Pages, size and resolution of a TIFF (first page's tags); ValueError if it is not a TIFF."""
    data = path.read_bytes()
    if data[:4] not in (b"II*\x00", b"MM\x00*"):
        raise ValueError(f"{path} is not a TIFF file")
    endian = "<" if data[:2] == b"II" else ">"
    offset = struct.unpack_from(endian + "I", data, 4)[0]
    pages, tags = 0, {}
    while offset and pages < 10_000:
        count = struct.unpack_from(endian + "H", data, offset)[0]
        for i in range(count):
            tag, typ, n, value_off = struct.unpack_from(endian + "HHII", data, offset + 2 + 12 * i)
            if pages == 0:
                if typ == 3:  # SHORT: value in the first two bytes of the field
                    value = struct.unpack_from(endian + "H", data, offset + 2 + 12 * i + 8)[0]
                elif typ == 5:  # RATIONAL: at the offset
                    value = _rational(data, value_off, endian)
                else:
                    value = value_off
                tags[tag] = value
        offset = struct.unpack_from(endian + "I", data, offset + 2 + 12 * count)[0]
        pages += 1
    unit = tags.get(296, 2)  # 2: inch, 3: centimetre
    per_metre = 100 / 2.54 if unit == 2 else 100.0

    def res(tag: int, default: int) -> int:
        return int(tags[tag] * per_metre) if tags.get(tag) else default

    return FaxDocument(pages=pages, width=int(tags.get(256, 1728)), length=int(tags.get(257, 2292)),
                       file_resolution=(res(282, 8031), res(283, 7716)), path=path)


def write_blank_tiff(path: Path, *, width: int = 1728, length: int = 2292, pages: int = 1,
                     resolution_dpi: tuple[int, int] = (204, 196)) -> int:
    """Write a valid bilevel TIFF of blank pages (one PackBits strip each); returns its size.

    WhiteIsZero, 1 bit per sample, FillOrder 1: what ``tiffinfo``/``tiff2pdf``
    and ghostscript read as a fax page.
    """
    if width <= 0 or length <= 0 or pages <= 0:
        raise ValueError("width, length and pages must be positive")
    row_bytes = (width + 7) // 8
    row = bytearray()
    left = row_bytes
    while left:
        run = min(128, left)
        row += bytes([(257 - run) & 0xFF, 0]) if run > 1 else bytes([0, 0])
        left -= run
    strip = bytes(row) * length
    out = bytearray(b"II*\x00" + struct.pack("<I", 0))
    prev_next_ptr = 4
    for _ in range(pages):
        strip_off = len(out)
        out += strip
        if len(out) % 2:
            out += b"\x00"
        res_off = len(out)
        out += struct.pack("<IIII", resolution_dpi[0], 1, resolution_dpi[1], 1)
        entries = [
            (254, 4, 1, 2),            # NewSubfileType: a page of a multi-page document
            (256, 4, 1, width),        # ImageWidth
            (257, 4, 1, length),       # ImageLength
            (258, 3, 1, 1),            # BitsPerSample
            (259, 3, 1, 32773),        # Compression: PackBits
            (262, 3, 1, 0),            # Photometric: WhiteIsZero
            (266, 3, 1, 1),            # FillOrder
            (273, 4, 1, strip_off),    # StripOffsets
            (277, 3, 1, 1),            # SamplesPerPixel
            (278, 4, 1, length),       # RowsPerStrip
            (279, 4, 1, len(strip)),   # StripByteCounts
            (282, 5, 1, res_off),      # XResolution
            (283, 5, 1, res_off + 8),  # YResolution
            (296, 3, 1, 2),            # ResolutionUnit: inch
        ]
        ifd_off = len(out)
        struct.pack_into("<I", out, prev_next_ptr, ifd_off)
        out += struct.pack("<H", len(entries))
        for tag, typ, n, value in entries:
            packed = struct.pack("<HI", value, 0)[:4] if typ == 3 else struct.pack("<I", value)
            out += struct.pack("<HHI", tag, typ, n) + packed
        prev_next_ptr = len(out)
        out += struct.pack("<I", 0)
    path.write_bytes(bytes(out))
    return len(out)


class FaxSession:
    """The fax between a transmitting and a receiving leg."""

    def __init__(self, tx: Channel, rx: Channel, doc: FaxDocument):
        self.tx, self.rx, self.doc = tx, rx, doc
        self.received_pages = 0


def _station(channel: Channel) -> str:
    return channel.get_var("fax_ident") or ""


def _start(channel: Channel, path: str) -> None:
    channel.set_var("fax_v17_disabled", "0")
    channel.set_var("fax_ecm_requested", "1")
    channel.set_var("fax_filename", path)
    channel.set_var("read_codec", "L16")
    channel.set_var("read_rate", "8000")


def _fire(channel: Channel, name: str, site: tuple[str, str, str], tail: list[tuple[str, str]]) -> None:
    channel.fire("CUSTOM", tail, subclass=f"spandsp::{name}", site=site)


SITE_B = ("mod_spandsp_fax.c", "phase_b_handler", "386")
SITE_D = ("mod_spandsp_fax.c", "phase_d_handler", "521")
SITE_E = ("mod_spandsp_fax.c", "phase_e_handler", "676")


def _negotiated(channel: Channel, peer: Channel, tx: bool) -> None:
    s = channel.set_var
    s("fax_transfer_rate", "14400")
    if tx:
        s("fax_document_total_pages", "0")
    s("fax_ecm_used", "on")
    s("fax_t38_status", "off")
    s("fax_local_station_id", _station(channel))
    s("fax_remote_station_id", _station(peer))
    tail = [("uuid", channel.uuid), ("fax-transfer-rate", "14400"), ("fax-ecm-used", "on"),
            ("fax-t38-status", "off"), ("fax-local-station-id", _station(channel)),
            ("fax-remote-station-id", _station(peer))]
    if tx:
        tail.append(("fax-document-total-pages", "0"))
    _fire(channel, "txfaxnegociateresult" if tx else "rxfaxnegociateresult", SITE_B, tail)


def _page(channel: Channel, doc: FaxDocument, page: int, tx: bool) -> None:
    image_res = f"{FINE_RESOLUTION[0]}x{FINE_RESOLUTION[1]}"
    file_res = f"{doc.file_resolution[0]}x{doc.file_resolution[1]}" if tx else image_res
    pixels = f"{doc.width}x{doc.length}"
    values = [("image_resolution", image_res), ("file_image_resolution", file_res),
              ("image_pixel_size", pixels), ("file_image_pixel_size", pixels),
              ("image_size", str(doc.image_size)), ("bad_rows", "0"), ("longest_bad_row_run", "0"),
              ("encoding", "32"), ("encoding_name", "T.85(L0)")]
    for k, v in values:
        channel.set_var(f"fax_{k}", v)
    channel.set_var("fax_document_transferred_pages", page)
    tail = [("uuid", channel.uuid), ("fax-document-transferred-pages", str(page))]
    if tx:
        channel.set_var("fax_document_total_pages", doc.pages)
        tail.append(("fax-document-total-pages", str(doc.pages)))
    order = ["image_resolution", "file_image_resolution", "image_size", "image_pixel_size",
             "file_image_pixel_size", "bad_rows", "longest_bad_row_run", "encoding", "encoding_name"]
    tail += [(f"fax-{k.replace('_', '-')}", dict(values)[k]) for k in order]
    _fire(channel, "txfaxpageresult" if tx else "rxfaxpageresult", SITE_D, tail)


def _result(channel: Channel, peer: Channel | None, doc: FaxDocument | None, pages: int,
            result: tuple[int, str], tx: bool) -> None:
    code, text = result
    total = doc.pages if doc is not None and code == 0 else pages
    image_size = "0" if not tx or doc is None else str(doc.image_size)
    values = [("success", "1" if code == 0 else "0"), ("result_code", str(code)), ("result_text", text),
              ("ecm_used", "on" if code == 0 else "off"), ("t38_status", "off"),
              ("local_station_id", _station(channel)), ("remote_station_id", _station(peer) if peer else ""),
              ("document_transferred_pages", str(pages)), ("document_total_pages", str(total)),
              ("image_resolution", f"{FINE_RESOLUTION[0]}x{FINE_RESOLUTION[1]}" if pages else "0x0"),
              ("image_size", image_size if pages else "0"), ("bad_rows", "0"),
              ("transfer_rate", "14400" if code == 0 else "0")]
    for k, v in values:
        channel.set_var(f"fax_{k}", v)
    event_order = ["success", "result_code", "result_text", "document_transferred_pages", "document_total_pages",
                   "image_resolution", "image_size", "bad_rows", "transfer_rate", "ecm_used", "t38_status",
                   "local_station_id", "remote_station_id"]
    _fire(channel, "txfaxresult" if tx else "rxfaxresult", SITE_E,
          [(f"fax-{k.replace('_', '-')}", dict(values)[k]) for k in event_order])


def _fax_peer(channel: Channel) -> Channel | None:
    return channel.loopback_peer or channel.other_leg


async def app_txfax(channel: Channel, arg: str) -> None:
    """``txfax <path>``: send the TIFF at path to the ``rxfax`` on the other leg."""
    path = arg.strip()
    if not path:
        raise ValueError("txfax needs the path of a TIFF file")
    sim = channel.sim
    _start(channel, path)
    local = sim.local_path(path)
    try:
        doc = read_tiff(local)
    except (OSError, ValueError, struct.error):
        _result(channel, _fax_peer(channel), None, 0, RESULT_FILE_ERROR, tx=True)
        channel.set_var("read_codec", "L16")
        channel.set_var("read_rate", "8000")
        return None
    peer = _fax_peer(channel)
    # wait for the receiver to start (rxfax on the other leg), then run the phases
    kind, _ = await channel.wait_input(PHASE_B_SECONDS, dtmf=False)
    if peer is None or peer.fax_rx is None or kind == "hangup":
        await channel.wait_input(None, dtmf=False)
        _result(channel, peer, doc, 0, RESULT_CALL_DROPPED, tx=True)
        return None
    session = FaxSession(channel, peer, doc)
    peer.fax_session = session
    _negotiated(channel, peer, tx=True)
    await sim.clock.sleep(RX_NEGOTIATE_LAG)
    _negotiated(peer, channel, tx=False)
    for page in range(1, doc.pages + 1):
        kind, _ = await channel.wait_input(PHASE_D_SECONDS, dtmf=False)
        if kind == "hangup" or peer.hungup:
            break
        session.received_pages = page
        _page(peer, doc, page, tx=False)
        await sim.clock.sleep(TX_PAGE_LAG)
        _page(channel, doc, page, tx=True)
    done = session.received_pages == doc.pages
    if done:
        await channel.wait_input(PHASE_E_SECONDS, dtmf=False)
        _receive_file(peer, doc)
        peer.fax_done = True
        peer._poke()
    # the transmitter reports once its call is over
    await channel.wait_input(None, dtmf=False)
    _result(channel, peer, doc, session.received_pages, RESULT_OK if done else RESULT_CALL_DROPPED, tx=True)
    channel.set_var("read_codec", "L16")
    channel.set_var("read_rate", "8000")
    return None


def _receive_file(rx: Channel, doc: FaxDocument) -> None:
    """Write what was received: the sent TIFF if readable, else blank pages of its size."""
    target = rx.sim.local_path(rx.fax_rx or "")
    if not target.parent.is_dir():
        return
    if doc.path is not None and doc.path.is_file():
        shutil.copyfile(doc.path, target)
    else:
        write_blank_tiff(target, width=doc.width, length=doc.length, pages=doc.pages)


async def app_rxfax(channel: Channel, arg: str) -> None:
    """``rxfax <path>``: receive the fax the other leg's ``txfax`` sends; write it to path."""
    path = arg.strip()
    if not path:
        raise ValueError("rxfax needs the path to write the TIFF to")
    _start(channel, path)
    channel.fax_rx, channel.fax_done = path, False
    if channel.caller_fax is not None and channel.fax_session is None:  # the caller is a fax machine
        channel.sim.spawn(_remote_transmit(channel, channel.caller_fax))
    await channel.wait_input(None, dtmf=False, until=lambda: channel.fax_done)
    session = channel.fax_session
    pages = session.received_pages if session else 0
    ok = channel.fax_done
    _result(channel, session.tx if session else _fax_peer(channel), session.doc if session else None, pages,
            RESULT_OK if ok else RESULT_CALL_DROPPED, tx=False)
    channel.fax_rx = None
    channel.set_var("read_codec", "L16")
    channel.set_var("read_rate", "8000")
    return None


# --------------------------------------------------------------------------- fax tone detection
#: seconds of a CNG burst (1100 Hz, 0.5 s on / 3 s off) before spandsp reports it
CNG_DETECT_SECONDS = 0.5


@dataclass
class FaxDetect:
    """mod_spandsp's fax detector on a channel (the ``_fax_tone_detect_`` private)."""

    app: str
    arg: str
    expires: float | None  # loop time; None: until stopped
    tone: str = "cng"
    up: bool = True        # the media bug is running (stops after a hit)


class RemoteFax:
    """A fax machine at the far end of a call: its calling tone, then the document it sends."""

    def __init__(self, doc: FaxDocument, station: str = "") -> None:
        self.doc = doc
        self.station = station
        self.uuid = ""

    def get_var(self, name: str, default: str | None = None) -> str | None:
        return self.station if name == "fax_ident" else default


def caller_sends_fax(channel: Channel, doc: FaxDocument | None = None, station: str = "") -> None:
    """The far end is a fax machine from now on (``Call.send_fax``)."""
    channel.caller_fax = RemoteFax(doc or FaxDocument(), station)
    _listen(channel)


def _listen(channel: Channel) -> None:
    detect = channel.fax_detect
    if detect is None or not detect.up or channel.caller_fax is None or detect.tone != "cng" or channel.hungup:
        return
    channel.sim.spawn(_hear_cng(channel, detect))


async def _hear_cng(channel: Channel, detect: FaxDetect) -> None:
    await channel.sim.clock.sleep(CNG_DETECT_SECONDS)
    loop_now = asyncio.get_running_loop().time()
    if channel.hungup or channel.fax_detect is not detect or not detect.up:
        return
    if detect.expires is not None and loop_now >= detect.expires:
        return
    detect.up = False  # tone_detect_callback returns SWITCH_FALSE: the bug is removed
    if detect.app:
        channel.enqueue_app(detect.app, detect.arg)
    # the header before the channel's; no variables (DETECTED_TONE is not among the events
    # switch_channel_event_set_extended_data gives them to without verbose events)
    channel.fire("DETECTED_TONE", pre=[("Detected-Fax-Tone", "true")], with_vars=False)


async def app_spandsp_start_fax_detect(channel: Channel, arg: str) -> None:
    """``<app> <arg> [<timeout s>] [ced]`` (mod_spandsp.c ``spandsp_fax_detect_session_function``)."""
    argv = arg.split(" ", 3) if arg else []
    if len(argv) < 2:  # "Cannot Enable fax detection": logged, nothing armed
        return None
    if channel.fax_detect is not None:  # "Max Tones Reached!"
        return None
    timeout = int(argv[2]) if len(argv) > 2 and argv[2].lstrip("-").isdigit() else 0
    loop = asyncio.get_running_loop()
    expires = loop.time() + timeout * channel.sim.clock.time_scale if timeout > 0 else None
    tone = "ced" if len(argv) > 3 and argv[3] == "ced" else "cng"
    channel.fax_detect = FaxDetect(argv[0], argv[1], expires, tone)
    _listen(channel)
    return None


async def app_spandsp_stop_fax_detect(channel: Channel, arg: str) -> None:
    channel.fax_detect = None
    return None


async def _remote_transmit(rx: Channel, remote: RemoteFax) -> None:
    """The far-end fax machine sends its document to the ``rxfax`` running on ``rx``."""
    sim = rx.sim
    doc = remote.doc
    await sim.clock.sleep(PHASE_B_SECONDS + RX_NEGOTIATE_LAG)
    if rx.hungup or rx.fax_rx is None:
        return
    session = FaxSession(remote, rx, doc)  # type: ignore[arg-type]  (the far end is no leg)
    rx.fax_session = session
    _negotiated(rx, remote, tx=False)  # type: ignore[arg-type]
    for page in range(1, doc.pages + 1):
        await sim.clock.sleep(PHASE_D_SECONDS)
        if rx.hungup:
            return
        session.received_pages = page
        _page(rx, doc, page, tx=False)
    await sim.clock.sleep(PHASE_E_SECONDS)
    if rx.hungup:
        return
    _receive_file(rx, doc)
    rx.fax_done = True
    rx._poke()
