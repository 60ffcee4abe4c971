"""A small Streamlit client at the browser's own protocol level: one websocket, binary protobufs.

It does what the frontend does, and no more than a load test needs:
  * GET /_stcore/health for the `_streamlit_xsrf` cookie (behind nginx, also the route cookie that
    keeps a browser on one replica), then open /_stcore/stream with the
    subprotocols ["streamlit", <xsrf token>] and that cookie (the double-submit check that
    starlette_websocket.py makes), the browser's own cookies (`cookies`: e.g. the one that
    names its training jobs), and an Origin header of the same host;
  * send `rerun_script` BackMsgs with the query string, every widget state the "user" has set,
    the page script hash, a fragment id for a widget inside a fragment, and the hashes of the
    cacheable messages it holds (so the server answers with `ref_hash` for those, as it does
    for a browser);
  * read ForwardMsgs: new_session, deltas (the element protos, from which widget ids are taken
    by their user key: `$$ID-<hash>-<key>`), page_info_changed (the URL query string, which the
    page then sends back), auto_rerun (a fragment's run_every), script_finished.

Only to 127.0.0.1: `StreamlitSession` refuses any other host.
"""
import asyncio
import json
import time
import urllib.parse
import urllib.request

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

XSRF_COOKIE = "_streamlit_xsrf"
DONE = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY}
FAILED = {ForwardMsg.FINISHED_WITH_COMPILE_ERROR}
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class Lost(Exception):
    """No answer in time, or the connection went away."""


def set_cookies(base_url, cookies=None, timeout=10):
    """The cookies GET /_stcore/health sets, sent with `cookies`: the XSRF cookie, and behind
    nginx (deploy/) the route cookie that keeps a browser on one replica."""
    request = urllib.request.Request(base_url + "/_stcore/health", headers=cookie_header(cookies))
    out = {}
    with urllib.request.urlopen(request, timeout=timeout) as response:
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            out[name.strip()] = rest.split(";", 1)[0]
    return out


def cookie_header(cookies):
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())} if cookies else {}


def element_text(element):
    """The visible text of a text-like element, for checks ("" for the others)."""
    kind = element.WhichOneof("type")
    if kind == "markdown":
        return element.markdown.body
    if kind == "alert":
        return element.alert.body
    if kind == "progress":
        return element.progress.text
    if kind == "exception":
        return f"{element.exception.type}: {element.exception.message}"
    if kind == "toast":
        return element.toast.body
    return ""


class RunRecord:
    """What one script run (or fragment run) sent: its elements, in order."""

    def __init__(self):
        self.elements = []  # (kind, Element proto, fragment_id)
        self.exceptions = []
        self.texts = []
        self.status = None
        self.bytes = 0


class StreamlitSession:
    """One browser tab. Not thread-safe: one coroutine drives it, one task reads it."""

    def __init__(self, base_url, query_string="", timeout=30.0, name="", cookies=None):
        host = urllib.parse.urlsplit(base_url).hostname
        if host not in LOCAL_HOSTS:
            raise ValueError(f"this client only talks to the loopback interface, not {host!r}")
        self.base_url = base_url.rstrip("/")
        self.query_string = query_string
        self.timeout = timeout
        self.name = name
        self.cookies = dict(cookies or {})  # the browser's own cookies, sent with the websocket
        self.ws = None
        self.reader = None
        self.session_id = None
        self.page_script_hash = ""
        self.widget_states = {}  # id → WidgetState: what the page holds and sends on every rerun
        self.widgets = {}  # user key (or id) → (id, kind, fragment_id) from the latest element protos
        self.elements = {}  # user key → the latest Element proto of that widget
        self.components = {}  # user key → latest parsed json data of a bidi component
        self.cache = {}  # hash → ForwardMsg: the frontend's message cache
        self.auto_rerun = {}  # fragment id → interval (s), from auto_rerun / stop_auto_rerun
        self.run = RunRecord()
        self.finished = asyncio.Event()
        self.closed = False
        self.bytes_received = 0
        self.messages_received = 0
        self.page_info_changes = 0

    # -- connection --------------------------------------------------------------------
    async def connect(self):
        for name, value in (await asyncio.to_thread(set_cookies, self.base_url, self.cookies)).items():
            self.cookies.setdefault(name, value)  # kept, as a browser keeps them, for later requests
        cookie = self.cookies.get(XSRF_COOKIE)
        ws_url = self.base_url.replace("http://", "ws://", 1) + "/_stcore/stream"
        headers = {"Origin": self.base_url, **cookie_header(self.cookies)}
        protocols = ["streamlit"] + ([cookie] if cookie else [])
        self.ws = await asyncio.wait_for(
            websockets.connect(ws_url, subprotocols=protocols, additional_headers=headers, max_size=None,
                               compression=None, open_timeout=self.timeout, ping_interval=None),
            self.timeout)
        self.reader = asyncio.create_task(self._read(), name=f"read-{self.name}")

    def get(self, path, timeout=10):
        """GET a path of the server (a /media file) with this browser's cookies; blocking."""
        request = urllib.request.Request(self.base_url + path, headers=cookie_header(self.cookies))
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read()

    async def close(self):
        self.closed = True
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()
            try:
                await self.reader
            except (asyncio.CancelledError, Exception):
                pass

    async def _read(self):
        try:
            async for frame in self.ws:
                self.bytes_received += len(frame)
                self.run.bytes += len(frame)
                msg = ForwardMsg()
                msg.ParseFromString(frame)
                self._handle(msg)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed = True
            self.finished.set()  # wake a waiter: it sees `closed`

    def _handle(self, msg):
        self.messages_received += 1
        if msg.WhichOneof("type") == "ref_hash":
            cached = self.cache.get(msg.ref_hash)
            if cached is None:
                return  # never expected: we only report hashes we hold
            metadata = msg.metadata
            msg = ForwardMsg()
            msg.CopyFrom(cached)
            msg.metadata.CopyFrom(metadata)
        elif msg.metadata.cacheable and msg.hash:
            self.cache[msg.hash] = msg
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self.page_script_hash = msg.new_session.page_script_hash
            if msg.new_session.initialize.session_id:
                self.session_id = msg.new_session.initialize.session_id
        elif kind == "delta":
            self._delta(msg.delta)
        elif kind == "page_info_changed":
            self.query_string = msg.page_info_changed.query_string
            self.page_info_changes += 1
        elif kind == "auto_rerun":
            self.auto_rerun[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
        elif kind == "stop_auto_rerun":
            self.auto_rerun.pop(msg.stop_auto_rerun.fragment_id, None)
        elif kind == "script_finished":
            self.run.status = msg.script_finished
            if msg.script_finished in DONE or msg.script_finished in FAILED:
                self.finished.set()
        elif kind == "session_event":
            if msg.session_event.WhichOneof("type") == "script_compilation_exception":
                self.run.exceptions.append(msg.session_event.script_compilation_exception.message)

    def _delta(self, delta):
        fragment_id = delta.fragment_id
        which = delta.WhichOneof("type")
        if which == "add_block":
            block = delta.add_block
            if block.WhichOneof("type") == "tab_container" and block.tab_container.id:
                self._widget(block.tab_container.id, "tab_container", fragment_id)
            return
        if which != "new_element":
            return
        element = delta.new_element
        kind = element.WhichOneof("type")
        self.run.elements.append((kind, element, fragment_id))
        text = element_text(element)
        if text:
            self.run.texts.append(text)
        if kind == "exception":
            self.run.exceptions.append(text)
        proto = getattr(element, kind, None) if kind else None
        widget_id = getattr(proto, "id", "") if proto is not None else ""
        if widget_id:
            key = self._widget(widget_id, kind, fragment_id)
            self.elements[key] = element
            if kind == "bidi_component" and proto.WhichOneof("data") == "json":
                self.components[key] = json.loads(proto.json)

    def _widget(self, widget_id, kind, fragment_id):
        parts = widget_id.split("-", 2)
        key = parts[2] if widget_id.startswith("$$ID-") and len(parts) == 3 and parts[2] != "None" else widget_id
        self.widgets[key] = (widget_id, kind, fragment_id)
        return key

    # -- interactions ------------------------------------------------------------------
    def widget_id(self, key):
        return self.widgets[key][0]

    def fragment_of(self, key):
        return self.widgets[key][2]

    def set_json(self, key, value):
        wid = self.widget_id(key)
        self.widget_states[wid] = WidgetState(id=wid, json_value=json.dumps(value, separators=(",", ":")))

    def set_string(self, key, value):
        wid = self.widget_id(key)
        self.widget_states[wid] = WidgetState(id=wid, string_value=value)

    def set_double(self, key, value):
        wid = self.widget_id(key)
        self.widget_states[wid] = WidgetState(id=wid, double_value=float(value))

    def set_double_array(self, key, values):
        wid = self.widget_id(key)
        state = WidgetState(id=wid)
        state.double_array_value.data.extend(float(v) for v in values)
        self.widget_states[wid] = state

    def set_query_param(self, name, value):
        """Set (or with None, remove) one URL query parameter, as a click that moves the URL does."""
        params = urllib.parse.parse_qsl(self.query_string, keep_blank_values=True)
        params = [(k, v) for k, v in params if k != name] + ([(name, value)] if value is not None else [])
        self.query_string = urllib.parse.urlencode(params)

    def query_param(self, name):
        return dict(urllib.parse.parse_qsl(self.query_string)).get(name)

    async def rerun(self, fragment_id="", triggers=(), is_auto_rerun=False):
        """Send a rerun_script as the page does; wait for its script_finished. Returns
        (seconds, RunRecord). `triggers`: user keys of buttons clicked for this run only."""
        if self.closed:
            raise Lost("connection closed")
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query_string
        state.page_script_hash = self.page_script_hash
        state.fragment_id = fragment_id or ""
        state.is_auto_rerun = is_auto_rerun
        state.widget_states.widgets.extend(self.widget_states.values())
        for key in triggers:
            state.widget_states.widgets.append(WidgetState(id=self.widget_id(key), trigger_value=True))
        state.cached_message_hashes.extend(self.cache)
        info = state.context_info
        info.timezone, info.timezone_offset, info.locale = "UTC", 0, "en-US"
        info.url = f"{self.base_url}/?{self.query_string}" if self.query_string else f"{self.base_url}/"
        self.run = RunRecord()
        self.finished.clear()
        started = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        try:
            await asyncio.wait_for(self.finished.wait(), self.timeout)
        except asyncio.TimeoutError:
            raise Lost(f"no script_finished within {self.timeout:.0f} s") from None
        if self.closed and self.run.status not in DONE:
            raise Lost("connection closed")
        return time.perf_counter() - started, self.run
