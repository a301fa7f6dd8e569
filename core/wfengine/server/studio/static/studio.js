// wfengine studio: one page over the REST API. Every value from the server is put in the
// page as text (textContent / text nodes), never parsed as HTML.

const KEY = "wfengine.apiKey";
const main = document.getElementById("main");
const STATUSES = ["pending", "queued", "running", "paused", "completed", "failed", "cancelled"];
let cleanup = [];

// -- DOM: el("tag", {attrs}, ...children); strings become text nodes ----------------------
function el(tag, attrs = {}, ...children) {
  const node = tag === "svg" || attrs.svg
    ? document.createElementNS("http://www.w3.org/2000/svg", tag)
    : document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "svg" || value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}
const svg = (tag, attrs = {}, ...children) => el(tag, { ...attrs, svg: true }, ...children);
// a log entry's status ("interrupted", "re-entered after answer"...) as a status colour
const STATUS_CLASS = { completed: "done", retrying: "running", interrupted: "paused", "re-entered after answer": "running" };
const badge = (status) => el("span", { class: `status status-${STATUS_CLASS[status] || status}` }, status);
const show = (...nodes) => main.replaceChildren(...nodes);

// -- API ---------------------------------------------------------------------------------
class Unauthorised extends Error {}

async function api(path, options = {}) {
  const headers = { Accept: "application/json", ...(options.headers || {}) };
  const key = sessionStorage.getItem(KEY);
  if (key) headers.Authorization = `Bearer ${key}`;
  if (options.json !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method: options.method || "GET",
    headers,
    body: options.json !== undefined ? JSON.stringify(options.json) : undefined,
    credentials: "omit",
  });
  if (response.status === 401) throw new Unauthorised("an API key is required");
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) {
    const error = new Error(body?.error?.message || `${response.status} ${response.statusText}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

function b64url(text) {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "");
}

function socket(path, onEvent) {
  // the key goes in a subprotocol, never in the URL (which lands in access logs)
  const protocols = ["wfengine"];
  const key = sessionStorage.getItem(KEY);
  if (key) protocols.push(`bearer.${b64url(key)}`);
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}${path}`, protocols);
  ws.addEventListener("message", (message) => onEvent(JSON.parse(message.data)));
  cleanup.push(() => ws.close());
  return ws;
}

function failure(error) {
  if (error instanceof Unauthorised) return keyPrompt("The server needs an API key.");
  show(el("h1", {}, "Something went wrong"), el("p", { class: "msg bad", role: "alert" }, error.message));
}

// -- key prompt --------------------------------------------------------------------------
function keyPrompt(note) {
  document.getElementById("signout").hidden = true;
  const input = el("input", { type: "password", id: "api-key", autocomplete: "off", required: true });
  const form = el(
    "form",
    {
      onsubmit: (event) => {
        event.preventDefault();
        sessionStorage.setItem(KEY, input.value.trim());
        route();
      },
    },
    el("label", { for: "api-key" }, "API key", input),
    el("button", { type: "submit" }, "Open the studio"),
  );
  show(
    el(
      "section",
      { class: "keybox", id: "key-prompt" },
      el("h1", {}, "API key"),
      el("p", {}, note, " It is kept in this tab only (session storage) and sent as a header."),
      sessionStorage.getItem(KEY) ? el("p", { class: "msg bad" }, "That key was refused.") : null,
      form,
    ),
  );
  input.focus();
}

// -- Runs page ---------------------------------------------------------------------------
function parseQuery(hash) {
  const query = hash.split("?")[1] || "";
  return Object.fromEntries(new URLSearchParams(query));
}

async function runsPage(params) {
  const filters = { status: "", graph_id: "", q: "", created_after: "", created_before: "", ...params };
  const field = (name, label, input) => el("label", { for: `f-${name}` }, label, input);
  const text = (name, type = "search") =>
    el("input", { id: `f-${name}`, name, type, value: filters[name] || "" });
  const status = el("select", { id: "f-status", name: "status" }, el("option", { value: "" }, "any"),
    STATUSES.map((s) => el("option", { value: s, selected: filters.status === s }, s)));
  const form = el(
    "form",
    {
      class: "filters",
      role: "search",
      onsubmit: (event) => {
        event.preventDefault();
        const data = Object.fromEntries([...new FormData(form)].filter(([, v]) => v));
        location.hash = `#/runs?${new URLSearchParams(data)}`;
      },
    },
    field("status", "Status", status),
    field("graph_id", "Graph", text("graph_id")),
    field("q", "Run id or error", text("q")),
    field("created_after", "Created from", text("created_after", "date")),
    field("created_before", "Created before", text("created_before", "date")),
    el("button", { type: "submit" }, "Filter"),
  );
  const body = el("tbody", { id: "runs-body" });
  const info = el("p", { class: "muted", id: "runs-info", "aria-live": "polite" });
  const pager = el("div", { class: "pager" });
  let order = 1; // 1: newest first (the server's order); -1: reversed within the page
  let rows = [];
  const sortButton = el("button", { class: "sort", type: "button", onclick: () => {
    order = -order;
    render();
  } }, "Created ⇅");
  const live = el("p", { class: "muted", id: "runs-live", role: "status" });
  const table = el("table", { id: "runs" },
    el("thead", {}, el("tr", {}, ["Run", "Graph", "Status", "Step"].map((h) => el("th", {}, h)),
      el("th", {}, sortButton), el("th", {}, "Error"))),
    body);
  show(
    el("h1", {}, "Runs"),
    form,
    el("div", { class: "table-wrap" }, table),
    info,
    live,
    pager,
  );

  const cursors = [params.cursor || null];
  const query = { ...filters, limit: params.limit || "25" };
  for (const name of ["created_after", "created_before"]) {
    if (query[name] && /^\d{4}-\d\d-\d\d$/.test(query[name])) query[name] += "T00:00:00";
  }
  const render = () => {
    const sorted = order === 1 ? rows : [...rows].reverse();
    body.replaceChildren(...sorted.map((run) => el("tr", { "data-run": run.run_id },
      el("td", {}, el("a", { href: `#/run/${encodeURIComponent(run.run_id)}` }, run.run_id.slice(0, 12))),
      el("td", {}, run.graph_id),
      el("td", {}, badge(run.status)),
      el("td", {}, run.step),
      el("td", {}, run.created_at.slice(0, 19).replace("T", " ")),
      el("td", { class: "wrap" }, run.error ? `${run.error.type}: ${run.error.message}` : ""),
    )));
    info.textContent = rows.length ? `${rows.length} runs on this page` : "No runs match.";
  };
  const load = async () => {
    const search = new URLSearchParams(Object.entries(query).filter(([, v]) => v));
    const cursor = cursors[cursors.length - 1];
    if (cursor) search.set("cursor", cursor);
    const page = await api(`/runs?${search}`);
    rows = page.runs;
    render();
    pager.replaceChildren(
      el("button", { type: "button", class: "secondary", disabled: cursors.length < 2, onclick: () => {
        cursors.pop();
        load().catch(failure);
      } }, "Previous"),
      el("button", { type: "button", class: "secondary", disabled: !page.next_cursor, onclick: () => {
        cursors.push(page.next_cursor);
        load().catch(failure);
      } }, "Next"),
    );
  };
  await load();
  followRuns({ table, live, rows: () => rows, render, load, firstPage: () => cursors.length === 1 && !cursors[0] });
}

// live runs page: one socket carrying every run's status changes (WS /ws/runs); while it is
// down, the page is read again and the socket retried after 1, 2, 4 ... 30 s
function followRuns({ table, live, rows, render, load, firstPage }) {
  let delay = 1000;
  let retry = null;
  let reload = null;
  let stopped = false;
  let lastRead = 0;
  const later = () => {
    // read at once, then at most every half second (many new runs at once: one read)
    reload ??= setTimeout(() => {
      reload = null;
      lastRead = Date.now();
      load().catch(() => {});
    }, Math.max(0, lastRead + 500 - Date.now()));
  };
  const onMessage = (message) => {
    if (message.type === "listening") {
      if (table.dataset.live === "polling") later(); // back: catch what changed meanwhile
      delay = 1000;
      table.dataset.live = "socket";
      live.textContent = "Live: runs update as they change.";
    } else if (message.type === "resync") {
      later();
    } else if (message.type === "run") {
      const row = rows().find((r) => r.run_id === message.run_id);
      if (row) {
        Object.assign(row, message);
        render();
      } else if (firstPage()) {
        later(); // a new run: the server says whether it passes the filters
      }
    }
  };
  const connect = () => {
    const ws = socket("/ws/runs", onMessage);
    ws.addEventListener("close", (event) => {
      if (stopped) return;
      if (event.code === 4401) return failure(new Unauthorised("an API key is required"));
      table.dataset.live = "polling";
      live.textContent = `Not live: reading the runs again in ${delay / 1000} s.`;
      retry = setTimeout(() => {
        load().catch(() => {});
        delay = Math.min(delay * 2, 30000);
        connect();
      }, delay);
    });
  };
  connect();
  cleanup.push(() => {
    stopped = true;
    clearTimeout(retry);
    clearTimeout(reload);
  });
}

// -- Run page ----------------------------------------------------------------------------
const BOX = { w: 130, h: 40, mapW: 175, mapH: 58, gapX: 40, gapY: 20, pad: 10, title: 22 };
const MAX_NESTING = 4;

function layers(spec) {
  // nodes in columns by their distance from the entry (a drawing, not a layout engine); a
  // map node's copies hang off it by a dashed "map" edge
  const nodes = spec.nodes || {};
  const names = Object.keys(nodes);
  const depth = new Map([[spec.entry, 0]]);
  const queue = [spec.entry];
  const edges = (spec.edges || []).flatMap((e) => [].concat(e.to).map((to) => [].concat(e.from).map((from) => [from, to, "edge"]))).flat();
  for (const name of names) {
    const target = nodes[name]?.map?.node;
    if (typeof target === "string") edges.push([name, target, "map"]);
  }
  while (queue.length) {
    const at = queue.shift();
    for (const [from, to] of edges) {
      if (from === at && names.includes(to) && !depth.has(to)) {
        depth.set(to, depth.get(at) + 1);
        queue.push(to);
      }
    }
  }
  for (const name of names) if (!depth.has(name)) depth.set(name, 0);
  return { names, depth, edges: edges.filter(([a, b]) => names.includes(a) && names.includes(b)) };
}

// the spec of a subgraph node: inline, or a stored graph / workflow fetched before drawing
function subgraphSpec(node, resolve) {
  const graph = node && typeof node === "object" ? node.graph : null;
  if (graph && typeof graph === "object" && graph.nodes && typeof graph.nodes === "object") return graph;
  if (typeof graph === "string") return resolve(graph) || null;
  return null;
}

// every stored graph / workflow a spec's subgraph nodes name, fetched (nested ones too);
// `found` caches them, `known` (a Set) limits the names asked for
async function subgraphSpecs(spec, found = new Map(), known = null, level = 0) {
  if (level >= MAX_NESTING) return found;
  for (const node of Object.values(spec.nodes || {})) {
    const graph = node && typeof node === "object" ? node.graph : null;
    let child = graph && typeof graph === "object" ? graph : found.get(graph) || null;
    if (typeof graph === "string" && !found.has(graph) && (!known || known.has(graph))) {
      found.set(graph, null);
      try {
        child = (await api(`/graph/${encodeURIComponent(graph)}`)).spec;
        found.set(graph, child);
      } catch (error) {
        if (error instanceof Unauthorised) throw error;
      }
    }
    if (child && child.nodes) await subgraphSpecs(child, found, known, level + 1);
  }
  return found;
}

// the size of a block (a graph, or a subgraph inside a frame) and how to draw it at (x, y)
function block(spec, prefix, resolve, level, out) {
  const { names, depth, edges } = layers(spec);
  const parts = new Map();
  for (const name of names) {
    const node = spec.nodes[name];
    const child = level < MAX_NESTING ? subgraphSpec(node, resolve) : null;
    if (child) {
      const inner = block(child, `${prefix}${name}/`, resolve, level + 1, out);
      parts.set(name, { inner, w: inner.w + 2 * BOX.pad, h: inner.h + BOX.title + BOX.pad });
    } else {
      parts.set(name, node?.map ? { w: BOX.mapW, h: BOX.mapH } : { w: BOX.w, h: BOX.h });
    }
  }
  const columns = [];
  for (const name of names) (columns[depth.get(name)] ??= []).push(name);
  const widths = columns.map((column) => Math.max(0, ...(column || []).map((n) => parts.get(n).w)));
  const heights = columns.map((column) => (column || []).reduce((sum, n) => sum + parts.get(n).h + BOX.gapY, -BOX.gapY));
  const w = Math.max(BOX.w, widths.reduce((sum, x) => sum + x + BOX.gapX, -BOX.gapX));
  const h = Math.max(BOX.h, ...heights);
  const draw = (x0, y0, into) => {
    const at = new Map();
    let x = x0;
    columns.forEach((column, d) => {
      let y = y0;
      for (const name of column || []) {
        at.set(name, { x, y, ...parts.get(name) });
        y += parts.get(name).h + BOX.gapY;
      }
      x += widths[d] + BOX.gapX;
    });
    const lines = svg("g", {});
    into.append(lines);
    for (const name of names) {
      const { x: nx, y: ny, w: nw, h: nh, inner } = at.get(name);
      const path = `${prefix}${name}`;
      if (inner) {
        // a subgraph: its nodes inside a frame; the frame is the exit node (same path)
        const frame = svg("rect", { x: nx, y: ny, width: nw, height: nh, rx: 8, class: "status-pending", "data-node": path });
        const group = svg("g", { class: "subgraph", "data-subgraph": path }, frame, svg("title", {}, `subgraph ${path}`),
          svg("text", { x: nx + 8, y: ny + 15, class: "subgraph-title" }, name.slice(0, 30)));
        into.append(group);
        out.boxes.set(path, frame);
        out.frames.push(path);
        inner.draw(nx + BOX.pad, ny + BOX.title, group);
        continue;
      }
      const rect = svg("rect", { x: nx, y: ny, width: nw, height: nh, rx: 6, class: "status-pending", "data-node": path });
      out.boxes.set(path, rect);
      const map = spec.nodes[name]?.map;
      const summary = map
        ? svg("text", { x: nx + 8, y: ny + 44, class: "map-summary", "data-map": path }, `map over ${map.over}`)
        : null;
      if (map) out.maps.set(path, { text: summary, over: map.over, node: `${prefix}${map.node}` });
      into.append(svg("g", {}, rect, svg("title", {}, path), svg("text", { x: nx + 8, y: ny + 25 }, name.slice(0, 18)), summary));
    }
    for (const [from, to, kind] of edges) {
      const a = at.get(from), b = at.get(to);
      lines.append(svg("line", { x1: a.x + a.w, y1: a.y + Math.min(a.h / 2, 20), x2: b.x, y2: b.y + Math.min(b.h / 2, 20), class: kind }));
    }
  };
  return { w, h, draw };
}

// the drawing of a spec: boxes by node path (subgraph nodes as nested blocks, `review/score`)
function drawGraph(spec, resolve = () => null) {
  const out = { boxes: new Map(), frames: [], maps: new Map() };
  const root = block(spec, "", resolve, 0, out);
  const width = root.w + 20, height = root.h + 20;
  const drawing = svg("svg", { class: "graph", width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "graph" });
  root.draw(10, 10, drawing);
  return { drawing, ...out };
}


// colour the drawing from the run's log: nodes by their last attempt, subgraph frames by
// their nodes (done once the exit node is), map nodes with their copies counted
function paint(graph, logs, state) {
  const set = (path, status) => graph.boxes.get(path)?.setAttribute("class", `status-${status}`);
  const last = new Map();
  for (const entry of logs) last.set(entry.node, STATUS_CLASS[entry.status] || entry.status);
  for (const [path, status] of last) set(path, status);
  for (const frame of graph.frames) {
    if (last.get(frame) === "done") continue;
    const inside = [...last].filter(([path]) => path.startsWith(`${frame}/`)).map(([, status]) => status);
    if (inside.includes("failed")) set(frame, "failed");
    else if (inside.includes("paused")) set(frame, "paused");
    else if (inside.length) set(frame, state.status === "running" ? "running" : "pending");
  }
  for (const [path, map] of graph.maps) {
    const sent = logs.filter((e) => e.node === path);
    if (!sent.length) continue;
    const step = Math.max(...sent.map((e) => e.step));
    const since = Math.max(...sent.filter((e) => e.step === step).map((e) => Date.parse(e.started_at)));
    const copies = logs.filter((e) => e.node === map.node && e.step === step);
    // a copy completes once (a resumed step runs only the copies that had not); failures
    // before the step's last try were retried
    const done = copies.filter((e) => e.status === "completed").length;
    const failed = copies.filter((e) => e.status === "failed" && Date.parse(e.started_at) >= since).length;
    const over = state.state?.[map.over];
    const moving = step > state.step && ["running", "pending"].includes(state.status);
    const total = moving ? (Array.isArray(over) ? over.length : null) : done + failed;
    map.text.textContent = `${total === null ? "" : `${total} ${total === 1 ? "copy" : "copies"}, `}${done} done, ${failed} failed`;
    const status = failed ? "failed" : moving ? "running" : "done";
    set(map.node, status);
    set(path, status); // the map node's step is done when its copies are
  }
  if (state.status === "paused") for (const n of state.current_nodes) set(n, "paused");
}

// one bar per node attempt on a shared time axis: parallel branches overlap, retries follow
function drawTimeline(entries) {
  const spans = entries.map((e) => {
    const start = Date.parse(e.started_at);
    return { ...e, start, end: start + Math.max(e.duration_ms, 0) };
  });
  const t0 = Math.min(...spans.map((e) => e.start));
  const t1 = Math.max(...spans.map((e) => e.end), t0 + 1);
  const width = 800, left = 150, row = 22;
  const scale = (t) => left + ((t - t0) / (t1 - t0)) * (width - left - 10);
  const drawing = svg("svg", { class: "timeline", id: "timeline", width, height: 10 + spans.length * row,
    viewBox: `0 0 ${width} ${10 + spans.length * row}`, role: "img", "aria-label": "timeline of node attempts" });
  spans.forEach((e, i) => {
    const y = 5 + i * row;
    const status = STATUS_CLASS[e.status] || e.status;
    drawing.append(
      svg("text", { x: 4, y: y + 14 }, `${e.node.slice(0, 16)} #${e.attempt}`),
      svg("rect", { x: scale(e.start), y, height: row - 6, width: Math.max(scale(e.end) - scale(e.start), 2),
        class: `status-${status}`, "data-node": e.node }, svg("title", {}, `${e.node} attempt ${e.attempt}: ${e.status}, ${e.duration_ms.toFixed(1)} ms`)),
    );
  });
  drawing.append(svg("text", { x: width - 10, y: 10 + spans.length * row - 2, "text-anchor": "end", class: "axis" },
    `${((t1 - t0) / 1000).toFixed(3)} s`));
  return drawing;
}

// the pending interrupt() questions of a paused run, one answer box each (JSON or text)
function questionForm(runId, resumed) {
  const section = el("section", { id: "questions", hidden: true, "aria-labelledby": "questions-title" });
  let shown = null;
  let fields = [];
  const message = el("p", { class: "msg", role: "status", id: "answer-message" });
  const send = async () => {
    message.className = "msg";
    message.textContent = "";
    const answers = {};
    for (const { node, box, mode } of fields) {
      if (mode.value === "text") {
        answers[node] = box.value;
        continue;
      }
      try {
        if (!box.value.trim()) throw new Error("the answer is empty");
        answers[node] = JSON.parse(box.value);
      } catch (error) {
        message.className = "msg bad";
        message.textContent = `The answer to ${node} is not valid JSON (${error.message}); ` +
          "fix it, or choose \u201ctext\u201d to send it as a string.";
        box.focus();
        return;
      }
    }
    // one pending question takes a bare answer; several are answered per node path
    const answer = fields.length === 1 ? answers[fields[0].node] : answers;
    button.disabled = true; // one answer per click
    try {
      await api(`/runs/${encodeURIComponent(runId)}/resume`, { method: "POST", json: { answer, wait: false } });
      message.className = "msg ok";
      message.textContent = "Answer sent; the run goes on.";
      await resumed();
    } catch (error) {
      if (error instanceof Unauthorised) return failure(error);
      message.className = "msg bad";
      message.textContent = `The server refused the answer: ${error.message}`;
    } finally {
      button.disabled = false;
    }
  };
  const button = el("button", { type: "button", id: "send-answer", onclick: () => send() }, "Answer and resume");
  const update = (pending) => {
    const key = JSON.stringify(pending);
    if (key === shown) return; // keep what the user is typing
    shown = key;
    const nodes = Object.keys(pending);
    section.hidden = nodes.length === 0;
    if (!nodes.length) {
      fields = [];
      section.replaceChildren(message);
      return;
    }
    fields = nodes.map((node, i) => ({
      node,
      box: el("textarea", { id: `answer-${i}`, class: "answer", "data-node": node, spellcheck: "false" }),
      mode: el("select", { id: `answer-mode-${i}`, "data-node": node },
        el("option", { value: "json" }, "JSON"), el("option", { value: "text" }, "text")),
    }));
    section.replaceChildren(
      el("h2", { id: "questions-title" }, nodes.length === 1 ? "A question is waiting" : `${nodes.length} questions are waiting`),
      ...fields.map(({ node, box, mode }, i) => {
        const { value, index } = pending[node];
        const headline = value && typeof value === "object" && typeof value.question === "string" ? value.question : null;
        return el("div", { class: "question", "data-node": node },
          el("h3", {}, node, index ? ` (question ${index + 1})` : ""),
          headline ? el("p", { class: "question-text" }, headline) : null,
          typeof value === "string"
            ? el("p", { class: "question-text" }, value)
            : el("pre", { class: "question-value" }, JSON.stringify(value, null, 2)),
          el("label", { for: `answer-${i}` }, `Answer to ${node}`, box),
          el("label", { for: `answer-mode-${i}` }, "Send it as", mode));
      }),
      el("div", { class: "actions" }, button),
      message,
    );
  };
  return { section, update };
}

function findKey(value, key, depth = 0) {
  if (depth > 6 || value === null || typeof value !== "object") return null;
  if (!Array.isArray(value) && typeof value[key] === "string") return value[key];
  for (const child of Object.values(value)) {
    const found = findKey(child, key, depth + 1);
    if (found) return found;
  }
  return null;
}

async function runPage(runId) {
  const run = await api(`/graph/state/${encodeURIComponent(runId)}`);
  let spec = null;
  try {
    spec = (await api(`/graph/${encodeURIComponent(run.graph_id)}`)).spec;
  } catch (error) {
    if (error instanceof Unauthorised) throw error;
  }
  const heading = el("h1", {}, "Run ", run.run_id);
  const statusLine = el("p", { id: "run-status" });
  const children = spec ? await subgraphSpecs(spec) : new Map();
  const graph = spec ? drawGraph(spec, (name) => children.get(name)) : null;
  const statePre = el("pre", { id: "state" });
  const logBody = el("tbody", { id: "log-body" });
  const timeline = el("div", { class: "table-wrap" });
  const errorBox = el("div", { id: "run-error" });
  const patch = el("textarea", { id: "state-patch", "aria-label": "state patch (JSON)", spellcheck: "false" });
  const message = el("p", { class: "msg", role: "status", id: "run-message" });
  const resume = el("button", { type: "button", id: "resume", onclick: () => act("resume") }, "Resume");
  const resumeEdited = el("button", { type: "button", id: "resume-edited", onclick: () => act("resume", true) }, "Edit state and resume");
  const cancel = el("button", { type: "button", id: "cancel", class: "secondary", onclick: () => act("cancel") }, "Cancel");
  const questions = questionForm(runId, () => refresh().then(follow));

  async function act(what, edited = false) {
    message.className = "msg";
    let json;
    if (what === "resume") {
      json = { wait: false };
      if (edited) {
        try {
          json.state_patch = JSON.parse(patch.value || "{}");
        } catch (error) {
          message.className = "msg bad";
          message.textContent = `The state patch is not JSON: ${error.message}`;
          return;
        }
      }
    }
    try {
      await api(`/runs/${encodeURIComponent(runId)}/${what}`, { method: "POST", json });
      message.textContent = what === "resume" ? "Resumed." : "Cancel requested.";
      await refresh();
      follow();
    } catch (error) {
      if (error instanceof Unauthorised) return failure(error);
      message.className = "msg bad";
      message.textContent = error.message;
    }
  }

  async function refresh() {
    const [state, logs] = await Promise.all([
      api(`/graph/state/${encodeURIComponent(runId)}`),
      api(`/runs/${encodeURIComponent(runId)}/logs`),
    ]);
    statusLine.replaceChildren(badge(state.status), ` step ${state.step}`,
      state.current_nodes.length ? ` · next: ${state.current_nodes.join(", ")}` : "");
    statePre.textContent = JSON.stringify(state.state, null, 2);
    if (!patch.value) patch.value = JSON.stringify(state.state, null, 2);
    questions.update(state.status === "paused" ? state.questions || {} : {});
    const resumable = ["paused", "failed", "cancelled"].includes(state.status);
    resume.disabled = resumeEdited.disabled = !resumable;
    cancel.disabled = !["running", "pending", "queued", "paused"].includes(state.status);
    timeline.replaceChildren(logs.logs.length ? drawTimeline(logs.logs) : el("p", { class: "muted" }, "No node has run yet."));
    logBody.replaceChildren(...logs.logs.map((entry) => el("tr", {},
      el("td", {}, entry.step), el("td", {}, entry.node), el("td", {}, entry.attempt),
      el("td", {}, badge(entry.status)), el("td", {}, `${Math.round(entry.duration_ms)} ms`),
      el("td", { class: "wrap" }, entry.error ? `${entry.error.type}: ${entry.error.message}` : ""))));
    if (graph) paint(graph, logs.logs, state);
    if (report.hidden && findKey(state.state, "report_html")) {
      report.hidden = false;
      report.replaceChildren(el("button", { type: "button", id: "open-report", class: "secondary",
        onclick: () => showReport().catch(failure) }, "Show the data-quality report"));
    }
    errorBox.replaceChildren();
    if (state.error) {
      errorBox.append(el("div", { class: "error-box", role: "alert" },
        el("strong", {}, `${state.error.type}: ${state.error.message}`),
        state.error.traceback
          ? el("pre", {}, state.error.traceback)
          : el("p", { class: "muted" }, "The traceback is in the server log (the server does not expose tracebacks).")));
    }
    return state;
  }

  const report = el("section", { id: "report", hidden: true });
  async function showReport() {
    // a plain link cannot carry the key: fetch the page, show it as a blob in a sandbox
    const headers = {};
    const key = sessionStorage.getItem(KEY);
    if (key) headers.Authorization = `Bearer ${key}`;
    const response = await fetch(`/runs/${encodeURIComponent(runId)}/report.html`, { headers, credentials: "omit" });
    if (!response.ok) {
      report.append(el("p", { class: "msg bad" }, `The report cannot be shown (${response.status}).`));
      return;
    }
    const url = URL.createObjectURL(new Blob([await response.text()], { type: "text/html" }));
    cleanup.push(() => URL.revokeObjectURL(url));
    report.replaceChildren(el("h2", {}, "Data-quality report"),
      el("iframe", { id: "report-frame", src: url, sandbox: "", title: "data-quality report" }));
  }
  const history = el("section", { id: "history", hidden: true });
  async function setUpHistory(last) {
    if (!config.history || last < 1) return;
    const slider = el("input", { type: "range", id: "step-slider", min: 0, max: last, value: last, "aria-label": "step" });
    const label = el("span", { id: "step-label" });
    const stateAt = el("pre", { id: "state-at" });
    const diff = el("pre", { id: "step-diff" });
    const forkMessage = el("p", { class: "msg", role: "status" });
    const showStep = async () => {
      const step = Number(slider.value);
      label.textContent = `step ${step} of ${last}`;
      const id = encodeURIComponent(runId);
      const [at, change] = await Promise.all([
        api(`/runs/${id}/state?step=${step}`),
        step > 0 ? api(`/runs/${id}/diff?from=${step - 1}&to=${step}`) : Promise.resolve(null),
      ]);
      stateAt.textContent = JSON.stringify(at.state, null, 2);
      diff.textContent = change ? JSON.stringify(change, null, 2) : "(the initial state)";
    };
    slider.addEventListener("change", () => showStep().catch(failure));
    const fork = config.history
      ? el("button", { type: "button", id: "fork", class: "secondary", onclick: async () => {
        try {
          const made = await api(`/runs/${encodeURIComponent(runId)}/fork`, { method: "POST", json: { step: Number(slider.value), wait: false } });
          location.hash = `#/run/${encodeURIComponent(made.run_id)}`;
        } catch (error) {
          if (error instanceof Unauthorised) return failure(error);
          forkMessage.className = "msg bad";
          forkMessage.textContent = error.message;
        }
      } }, "Fork from this step")
      : null;
    history.replaceChildren(el("h2", {}, "History"), el("div", { class: "actions" }, slider, label, fork), forkMessage,
      el("div", { class: "grid" }, el("section", {}, el("h3", {}, "State"), stateAt), el("section", {}, el("h3", {}, "Change from the step before"), diff)));
    history.hidden = false;
    await showStep();
  }

  // a map's copies finish within one step: re-read the log for the counts, twice a second at most
  const mapped = new Set([...(graph?.maps.values() || [])].map((m) => m.node));
  let pending = null;
  const soon = () => {
    pending ??= setTimeout(() => {
      pending = null;
      refresh().catch(() => {});
    }, 500);
  };
  cleanup.push(() => clearTimeout(pending));
  let ws = null;
  function follow() {
    if (ws && ws.readyState <= 1) return;
    ws = socket(`/ws/runs/${encodeURIComponent(runId)}`, (event) => {
      const box = graph?.boxes.get(event.node);
      if (event.type === "node_started") {
        box?.setAttribute("class", "status-running");
        for (const frame of graph?.frames || []) {
          if (event.node.startsWith(`${frame}/`)) graph.boxes.get(frame).setAttribute("class", "status-running");
        }
      } else if (event.type === "node_finished") box?.setAttribute("class", "status-done");
      else if (event.type === "node_failed") box?.setAttribute("class", event.will_retry ? "status-running" : "status-failed");
      if (event.type === "step_finished" || event.type === "run_finished") refresh().catch(() => {});
      else if (mapped.has(event.node) && event.type !== "node_started") soon();
    });
  }

  show(
    heading,
    el("p", { class: "muted" }, "Graph ", el("a", { href: `#/graph/${encodeURIComponent(run.graph_id)}` }, run.graph_id)),
    statusLine,
    graph ? graph.drawing : el("p", { class: "muted" }, "The graph's spec is not available."),
    errorBox,
    questions.section,
    el("div", { class: "actions" }, resume, cancel),
    report,
    el("div", { class: "grid" },
      el("section", {}, el("h2", {}, "State"), statePre),
      el("section", {}, el("h2", {}, "Edit state"), patch, el("div", { class: "actions" }, resumeEdited), message)),
    history,
    el("h2", {}, "Timeline"),
    timeline,
    el("h2", {}, "Log"),
    el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, ["Step", "Node", "Attempt", "Status", "Duration", "Error"].map((h) => el("th", {}, h)))),
      logBody)),
  );
  const state = await refresh();
  if (state.status === "running" || state.status === "pending") follow();
  else await setUpHistory(state.step);
}

// -- Graphs page -------------------------------------------------------------------------
async function graphsPage() {
  const [stored, workflows] = await Promise.all([api("/graphs"), api("/workflows")]);
  const link = (id) => el("a", { href: `#/graph/${encodeURIComponent(id)}` }, id);
  show(
    el("h1", {}, "Graphs"),
    el("h2", {}, "Stored graphs"),
    el("div", { class: "table-wrap" }, el("table", { id: "graphs" },
      el("thead", {}, el("tr", {}, ["Graph", "Name", "Created"].map((h) => el("th", {}, h)))),
      el("tbody", {}, stored.graphs.map((g) => el("tr", {}, el("td", {}, link(g.graph_id)), el("td", {}, g.name), el("td", {}, g.created_at || "")))))),
    el("h2", {}, "Registered workflows"),
    el("ul", { id: "workflows" }, workflows.workflows.map((w) => el("li", {}, link(w.name), w.description ? ` — ${w.description}` : ""))),
  );
}

async function graphPage(graphId) {
  const graph = await api(`/graph/${encodeURIComponent(graphId)}`);
  const children = await subgraphSpecs(graph.spec);
  const initial = el("textarea", { id: "initial-state", "aria-label": "initial state (JSON)", spellcheck: "false" }, "{}");
  const message = el("p", { class: "msg", role: "status", id: "start-message" });
  const start = el("button", { type: "button", id: "start-run", onclick: async () => {
    let state;
    try {
      state = JSON.parse(initial.value || "{}");
      if (typeof state !== "object" || state === null || Array.isArray(state)) throw new Error("it must be a JSON object");
    } catch (error) {
      message.className = "msg bad";
      message.textContent = `The initial state is not valid: ${error.message}`;
      return;
    }
    try {
      const run = await api("/graph/run", { method: "POST", json: { graph_id: graphId, initial_state: state, wait: false } });
      location.hash = `#/run/${encodeURIComponent(run.run_id)}`;
    } catch (error) {
      if (error instanceof Unauthorised) return failure(error);
      message.className = "msg bad";
      message.textContent = error.message;
    }
  } }, "Start a run");
  show(
    el("h1", {}, "Graph ", graphId),
    el("p", { class: "muted" }, graph.kind === "workflow" ? "registered workflow" : "stored graph"),
    drawGraph(graph.spec, (name) => children.get(name)).drawing,
    el("div", { class: "grid" },
      el("section", {}, el("h2", {}, "Start a run"), initial, el("div", { class: "actions" }, start), message),
      el("section", {}, el("h2", {}, "Spec"), el("pre", { id: "spec" }, JSON.stringify(graph.spec, null, 2)))),
  );
}


// -- Builder page ------------------------------------------------------------------------
const STARTER = `name: my-graph
entry: first
nodes:
  first:
    tool: TOOL
edges:
  - {from: first, to: END}
`;

async function builderPage() {
  const [tools, stored, workflows] = await Promise.all([
    api("/tools").then((r) => r.tools), api("/graphs"), api("/workflows")]);
  // subgraphs named by id are drawn nested when they exist (no request for a half-typed name)
  const known = new Set([...stored.graphs.map((g) => g.graph_id), ...workflows.workflows.map((w) => w.name)]);
  const children = new Map();
  const editor = el("textarea", { id: "spec-text", class: "code", "aria-label": "spec (YAML or JSON)", spellcheck: "false" },
    STARTER.replace("TOOL", tools[0]?.name || "my.tool"));
  const problem = el("div", { id: "builder-error", role: "status", "aria-live": "polite" });
  const drawing = el("div", { id: "builder-drawing" });
  const message = el("p", { class: "msg", role: "status", id: "builder-message" });
  let lastSpec = null;
  let valid = false;
  const save = el("button", { type: "button", id: "save-graph", disabled: true, onclick: async () => {
    try {
      const created = await api("/graph/create", { method: "POST", json: lastSpec });
      location.hash = `#/graph/${encodeURIComponent(created.graph_id)}`;
    } catch (error) {
      if (error instanceof Unauthorised) return failure(error);
      message.className = "msg bad";
      message.textContent = error.message;
    }
  } }, "Save as a stored graph");

  let timer = null;
  let seq = 0;
  const check = async () => {
    const mine = ++seq;
    const result = await api("/graph/validate", { method: "POST", json: { text: editor.value } });
    if (mine !== seq) return; // a newer edit is being checked
    valid = result.valid;
    save.disabled = !valid;
    if (result.spec && result.spec.nodes && typeof result.spec.nodes === "object") {
      lastSpec = result.spec;
      await subgraphSpecs(result.spec, children, known);
      if (mine !== seq) return;
      drawing.replaceChildren(drawGraph(result.spec, (name) => children.get(name)).drawing);
    }
    if (result.error) {
      const { line, column, message: text, where } = result.error;
      const at = line ? `Line ${line}${column ? `, column ${column}` : ""}: ` : "";
      const source = line ? editor.value.split("\n")[line - 1] ?? "" : "";
      problem.replaceChildren(el("div", { class: "error-box" },
        el("strong", { id: "builder-error-line", "data-line": line || "" }, at, text),
        where ? el("p", { class: "muted" }, `in ${where}`) : null,
        line ? el("pre", { class: "source-line" }, `${line} | ${source}`) : null,
        line ? el("button", { type: "button", class: "secondary", onclick: () => goToLine(line) }, "Go to the line") : null));
    } else {
      problem.replaceChildren(el("p", { class: "msg ok", id: "builder-ok" }, `Valid: ${result.nodes.length} nodes.`));
    }
  };
  const goToLine = (line) => {
    const lines = editor.value.split("\n");
    const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
    editor.focus();
    editor.setSelectionRange(start, start + (lines[line - 1] || "").length);
  };
  editor.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => check().catch(failure), 250);
  });
  cleanup.push(() => clearTimeout(timer));
  show(
    el("h1", {}, "Builder"),
    el("p", { class: "muted" }, "Edit a spec in YAML or JSON; the drawing follows the text."),
    el("div", { class: "grid" },
      el("section", {}, editor, problem, el("div", { class: "actions" }, save), message),
      el("section", {}, drawing,
        el("h2", {}, "Tools"),
        el("dl", { id: "tools" }, tools.map((t) => [el("dt", {}, t.name), el("dd", {}, t.description || "")])))),
  );
  await check();
}

// -- router ------------------------------------------------------------------------------
let config = null;

async function route() {
  for (const stop of cleanup.splice(0)) stop();
  if (config === null) config = await fetch("config.json", { credentials: "omit" }).then((r) => r.json());
  if (config.auth_required && !sessionStorage.getItem(KEY)) return keyPrompt("The server needs an API key.");
  const hash = location.hash || "#/runs";
  const [path] = hash.slice(1).split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  document.getElementById("signout").hidden = !sessionStorage.getItem(KEY);
  try {
    if (parts[0] === "run" && parts[1]) await runPage(parts[1]);
    else if (parts[0] === "graphs") await graphsPage();
    else if (parts[0] === "builder") await builderPage();
    else if (parts[0] === "graph" && parts[1]) await graphPage(parts[1]);
    else await runsPage(parseQuery(hash));
  } catch (error) {
    failure(error);
  }
  main.focus({ preventScroll: true });
}

document.getElementById("signout").addEventListener("click", () => {
  sessionStorage.removeItem(KEY);
  route();
});
window.addEventListener("hashchange", route);
route();
