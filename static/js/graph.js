/* The cross-trace diagram. The URL is the state: every control, the focus
 * and the selection live in the query string; each change is a pushState and
 * popstate re-renders, so back/forward and shared links reproduce the view.
 * The figure comes ready-made from /graph/<id>/figure (render/figures.py);
 * this file only maps clicks to spans and fills the side panel (textContent). */
(function () {
  "use strict";
  var el = tg.el;
  var gd = document.getElementById("plot");
  var statusBox = document.getElementById("plot-status");
  var form = document.getElementById("controls");
  var notices = document.getElementById("notices");
  var selectionBox = document.getElementById("selection");
  var journeyBox = document.getElementById("journey");
  var patternsBox = document.getElementById("patterns");
  var hoodBox = document.getElementById("hood");
  var bannerBox = document.getElementById("banner");
  var progressBox = document.getElementById("progress");
  var REMOTE = gd.dataset.remote === "1";  // a remote backend: prefetch with a progress bar
  var POLL_MS = 300;
  var ALL_TYPES = Array.prototype.map.call(form.querySelectorAll("input[name=types]"), function (i) { return i.value; });
  var DEFAULTS = { depth: "1", direction: "both", level: "", layout: "timeline", types: "", focus: "", select: "", max_traces: "", max_spans: "", snapshot: "" };
  var ORDER = ["depth", "direction", "level", "layout", "types", "max_traces", "max_spans", "focus", "select", "snapshot"];
  // The same keys, in the same order, as the early fetch in graph.html.
  var FIGURE_KEYS = ["depth", "direction", "level", "layout", "types", "max_traces", "max_spans", "snapshot"];
  // What a snapshot froze: changing any of these (or the trace) leaves it for the live graph.
  var GRAPH_KEYS = ["depth", "direction", "level", "types", "max_traces", "max_spans"];
  // plotGlPixelRatio: plotly draws WebGL at twice the screen's resolution by
  // default; on a 1x screen that is four times the pixels to fill for nothing
  // (measured: 3 s of the first frame at 10,000 spans in software WebGL).
  var CONFIG = {
    responsive: true, scrollZoom: true, displaylogo: false,
    modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"],
    plotGlPixelRatio: Math.max(1, Math.min(2, window.devicePixelRatio || 1))
  };

  // plotly asks for 4x multisampling (antialias) on its WebGL canvases. With
  // no GPU (SwiftShader, llvmpipe: VMs, remote desktops, headless browsers)
  // that is about half of every frame (measured at 10,000 spans: 0.24-0.44 s
  // a frame with it, 0.12-0.24 s without), so there the page turns it off:
  // thin lines get a little rougher, markers stay smooth. A GPU keeps it.
  var SOFTWARE_GL = /swiftshader|llvmpipe|softpipe|lavapipe|software/i;

  /** Whether WebGL runs in software: asked once per tab (a probe context
   * costs 10-20 ms there), then remembered for the tab's other pages. */
  function softwareGL() {
    var KEY = "tracegraph.softwareGL";
    try {
      var known = sessionStorage.getItem(KEY);
      if (known !== null) return known === "1";
    } catch (e) { /* storage off: probe every time */ }
    var soft = false;
    try {
      var gl = document.createElement("canvas").getContext("webgl");
      if (gl) {
        var info = gl.getExtension("WEBGL_debug_renderer_info");
        soft = SOFTWARE_GL.test(String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER)));
        var lose = gl.getExtension("WEBGL_lose_context");
        if (lose) lose.loseContext();
      }
      sessionStorage.setItem(KEY, soft ? "1" : "0");
    } catch (e) { /* no WebGL, or no storage */ }
    return soft;
  }

  if (softwareGL()) {
    var getContext = HTMLCanvasElement.prototype.getContext;
    HTMLCanvasElement.prototype.getContext = function (type, attrs) {
      if (type === "webgl" && attrs && this.classList.contains("gl-canvas")) {
        attrs = Object.assign({}, attrs, { antialias: false });
      }
      return getContext.apply(this, arguments.length > 1 ? [type, attrs] : arguments);
    };
  }

  var state = null;      // what the URL says
  var page = null;       // page data of the drawn figure
  var drawnKey = null;   // figureKey of the drawn figure
  var lookup = null;     // "trace:span" -> [role, index], built on demand
  var token = 0;         // the newest render; older fetches are dropped
  var detailKey = null;  // selection whose panel is shown
  var highlighted = null;
  window.__tracegraphReady = false;

  function parse(loc) {
    var m = loc.pathname.match(/\/graph\/([^/]+)/);
    var q = new URLSearchParams(loc.search);
    var st = { trace: m ? decodeURIComponent(m[1]) : "" };
    Object.keys(DEFAULTS).forEach(function (k) { st[k] = q.get(k) || DEFAULTS[k]; });
    return st;
  }

  function toUrl(st) {
    var q = new URLSearchParams();
    ORDER.forEach(function (k) { if (st[k] && st[k] !== DEFAULTS[k]) q.set(k, st[k]); });
    var s = q.toString();
    return "/graph/" + st.trace + (s ? "?" + s : "");
  }

  function figureKey(st) {
    return st.trace + "|" + FIGURE_KEYS.map(function (k) { return st[k]; }).join("|");
  }

  function with_(changes) {
    var next = Object.assign({}, state);
    Object.keys(changes).forEach(function (k) { next[k] = changes[k]; });
    return next;
  }

  function go(next, push) {
    if (state && next.snapshot && (next.trace !== state.trace || GRAPH_KEYS.some(function (k) { return next[k] !== state[k]; }))) {
      next.snapshot = "";
    }
    if (push !== false) history.pushState(next, "", toUrl(next));
    return render(next);
  }

  function figureUrl(st) {
    var q = new URLSearchParams();
    FIGURE_KEYS.forEach(function (k) { if (st[k] && st[k] !== DEFAULTS[k]) q.set(k, st[k]); });
    return "/graph/" + st.trace + "/figure?" + q.toString();
  }

  function fetchFigure(st) {
    var url = figureUrl(st);
    var pre = window.__tgPrefetch;
    window.__tgPrefetch = null;
    if (pre && pre.url === url) {
      return pre.response.then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok) throw new Error(body && body.error ? body.error : "HTTP " + r.status);
          return body;
        });
      });
    }
    return tg.getJSON(url);
  }

  function sleep(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  function showProgress(job) {
    if (!job) { progressBox.hidden = true; return; }
    var pct = Math.max(0, Math.min(100, Math.round(job.percent || 0)));
    progressBox.hidden = false;
    document.getElementById("progress-bar").style.width = pct + "%";
    progressBox.querySelector(".progress").setAttribute("aria-valuenow", String(pct));
    document.getElementById("progress-text").textContent = pct + "% · " + (job.message || job.state);
  }

  /** A remote neighbourhood: ask the API to fetch it in the background and
   *  poll the job (progress bar) until it is done or failed; then the figure. */
  function prefetch(st, mine) {
    var q = new URLSearchParams();
    GRAPH_KEYS.forEach(function (k) { if (st[k] && st[k] !== DEFAULTS[k]) q.set(k, st[k]); });
    q.set("prefetch", "1");
    return fetch("/api/graph/" + st.trace + "?" + q.toString(), { headers: { Accept: "application/json" } }).then(function (r) {
      if (r.status !== 202) return null;  // 200: cached already, or nothing to wait for
      return r.json().then(function (body) { return poll(body.job, mine); });
    });
  }

  function poll(job, mine) {
    if (mine !== token) return null;
    setStatus("");
    showProgress(job);
    if (job.state === "done" || job.state === "failed") return sleep(POLL_MS / 2);
    return sleep(POLL_MS).then(function () {
      return tg.getJSON("/api/jobs/" + job.id).then(function (next) { return poll(next, mine); });
    });
  }

  function loadFigure(st, mine) {
    if (!REMOTE || st.snapshot) return fetchFigure(st);
    return prefetch(st, mine).catch(function () { return null; }).then(function () {
      showProgress(null);
      if (mine !== token) return null;
      setStatus("Loading the diagram…");
      return fetchFigure(st);
    });
  }

  function syncControls(st) {
    // The service level has no time axis: it is always a dag (figures.py).
    var dagOnly = st.level === "service";
    form.querySelectorAll("input[name=layout]").forEach(function (i) {
      i.checked = i.value === (dagOnly ? "dag" : st.layout);
      i.disabled = dagOnly && i.value !== "dag";
      i.parentNode.title = i.disabled ? "services have no time axis: drawn as a dag" : "";
    });
    form.elements.level.value = st.level;
    form.elements.depth.value = st.depth;
    form.elements.direction.value = st.direction;
    var types = st.types ? st.types.split(",") : ALL_TYPES;
    form.querySelectorAll("input[name=types]").forEach(function (i) { i.checked = types.indexOf(i.value) >= 0; });
    document.getElementById("trace-link").href = "/traces/" + st.trace + (st.select ? "?focus=" + st.select : "");
  }

  /** Index of the plotly trace with `role` in `data` (default: what is drawn), -1 if none. */
  function roleIndex(role, data) {
    data = data || gd.data || [];
    for (var i = 0; i < data.length; i++) if (data[i].meta && data[i].meta.role === role) return i;
    return -1;
  }

  function setStatus(text) {
    statusBox.textContent = text || "";
    statusBox.hidden = !text;
  }

  function render(st) {
    var mine = ++token;
    state = st;
    window.__tracegraphReady = false;
    syncControls(st);
    var key = figureKey(st);
    var loading = key === drawnKey && page ? Promise.resolve(page) : (setStatus("Loading the diagram…"), loadFigure(st, mine));
    performance.mark("tg:fetch");
    return loading.then(function (data) {
      performance.mark("tg:data");
      if (mine !== token) return null;
      if (key !== drawnKey) return draw(data, st, key);
      return null;
    }).then(function () {
      if (mine !== token) return null;
      setStatus("");
      applySelection(st);
      performance.mark("tg:selected");
      return painted();
    }).then(function () {
      if (mine !== token) return;
      performance.mark("tg:painted");
      window.__tracegraphState = toUrl(st);
      window.__tracegraphReady = true;
    }).catch(function (err) {
      if (mine !== token) return;
      showProgress(null);
      setStatus("Could not draw this view: " + err.message);
      window.__tracegraphState = toUrl(st);
      window.__tracegraphReady = true;
    });
  }

  /** Resolves once the browser has painted a frame with the new diagram. */
  function painted() {
    return new Promise(function (resolve) {
      requestAnimationFrame(function () { requestAnimationFrame(resolve); });
    });
  }

  /** Build what the figure leaves to the page (tracegraph/render/figures.py):
   * the parent -> child polyline from the span markers' points and parents,
   * the pool the duration bars are picked from (pickBars), and the markers'
   * hover texts. */
  function deriveFigure(fig) {
    var spans = fig.data[roleIndex("spans", fig.data)];
    var meta = spans && spans.meta;
    if (!meta || !meta.dur) return;
    var x = spans.x, y = spans.y, dur = meta.dur, n = x.length;
    var bad = new Uint8Array(n);
    (meta.failed || []).forEach(function (k) { bad[k] = 1; });
    fig.data.forEach(function (t) {
      var how = t.meta && t.meta.derive;
      if (!how || how === "bars") return;  // bars: picked per view, see pickBars
      var tx = [], ty = [], i, p;
      if (how === "failed") {  // the failed spans' markers, red, on top
        (meta.failed || []).forEach(function (k) { tx.push(x[k]); ty.push(y[k]); });
      } else {  // "elbows": down at the child's start; "lines": parent to child
        for (i = 0; i < n; i++) {
          p = meta.parent[i];
          if (p < 0) continue;
          tx.push(how === "elbows" ? x[i] : x[p], x[i], null);
          ty.push(y[p], y[i], null);
        }
      }
      t.x = tx;
      t.y = ty;
    });
    bars = barPool(fig, x, y, dur, bad);
    if (meta.labels) {
      var text = new Array(n);
      for (var i = 0; i < n; i++) {
        text[i] = meta.labels[meta.label[i]] + "<br>" + tg.fmtNs(dur[i]) + (bad[i] ? " · ERROR" : "");
      }
      spans.hovertext = text;
    }
  }

  // --- duration bars: the ones that show ---------------------------------
  // In software WebGL each bar costs about 30 µs of every frame, however short
  // (10,000 bars: 0.3 s a frame). A bar too short to reach out of its marker
  // is hidden under it, and one outside the view is not seen; so the page
  // draws the bars that show in a window around the view (the view and its
  // width and height again on each side, so that small pans redraw nothing),
  // longest first and at most BAR_CAP, and picks them again after a zoom, or a
  // pan out of that window (pickBars, BAR_SETTLE_MS after the last change).
  var BAR_CAP = 20000;
  var BAR_SETTLE_MS = 150;
  var bars = null;      // the figure's pool: see barPool
  var barTimer = null;

  /** The bars of a figure, longest first; null when it has none to derive. */
  function barPool(fig, x, y, dur, bad) {
    var slots = [-1, -1];  // plotly trace of the plain bars, of the failed spans' bars
    fig.data.forEach(function (t, k) {
      if (t.meta && t.meta.derive === "bars") slots[t.meta.errors ? 1 : 0] = k;
    });
    if (slots[0] < 0 && slots[1] < 0) return null;
    var order = [];
    for (var i = 0; i < x.length; i++) if (dur[i] > 0) order.push(i);
    order.sort(function (a, b) { return dur[b] - dur[a]; });
    // A bar w px thick starts at its marker's centre (r px radius): it shows
    // once its far corners reach half a pixel past the circle (less is not
    // drawn on a pixel of its own).
    var spans = fig.data[roleIndex("spans", fig.data)];
    var r = ((spans.marker && typeof spans.marker.size === "number") ? spans.marker.size : 6) / 2;
    var line = fig.data[slots[0] >= 0 ? slots[0] : slots[1]].line || {};
    var half = (typeof line.width === "number" ? line.width : 2) / 2;
    var hidden = Math.sqrt(Math.max((r + 0.5) * (r + 0.5) - half * half, 0));
    return { x: x, y: y, dur: dur, bad: bad, order: order, slots: slots, hidden: hidden, view: null };
  }

  /** The window bars are picked for, around x range `xr` and y range `yr`
   * shown on `w` x `h` pixels: bounds, and the shortest bar (ns) that shows. */
  function barWindow(xr, yr, w, h) {
    var x0 = Math.min(xr[0], xr[1]), x1 = Math.max(xr[0], xr[1]);
    var y0 = Math.min(yr[0], yr[1]), y1 = Math.max(yr[0], yr[1]);
    var dx = x1 - x0, dy = y1 - y0;
    return {
      x0: x0 - dx, x1: x1 + dx, y0: y0 - dy, y1: y1 + dy, vx: [x0, x1], vy: [y0, y1],
      minDur: w > 0 ? bars.hidden * dx * 1e6 / w : 0
    };
  }

  /** Whether bars picked for window `had` still do for window `need`: the
   * view is inside it, and the scale is the same (bars shorter than the new
   * length hidden would be missing after a zoom in, too many drawn after a zoom out). */
  function barsCover(had, need) {
    if (!had) return false;
    var r = need.minDur > 0 ? had.minDur / need.minDur : 1;
    return r > 0.999999 && r < 1.000001 &&
      need.vx[0] >= had.x0 && need.vx[1] <= had.x1 && need.vy[0] >= had.y0 && need.vy[1] <= had.y1;
  }

  /** x/y of the bars traces for window `v`: [[x, y] per slot]. */
  function pickBars(v) {
    var out = [[[], []], [[], []]];
    var x = bars.x, y = bars.y, dur = bars.dur, order = bars.order, n = 0;
    for (var k = 0; k < order.length && n < BAR_CAP; k++) {
      var i = order[k], d = dur[i];
      if (d < v.minDur) break;
      var a = x[i], b = a + d / 1e6;
      if (b < v.x0 || a > v.x1 || y[i] < v.y0 || y[i] > v.y1) continue;
      var o = out[bars.bad[i]];
      o[0].push(a, b, null);
      o[1].push(y[i], y[i], null);
      n++;
    }
    return out;
  }

  /** Before the first draw: the window from the layout's ranges, or the data's
   * extent where plotly will autorange (a little wider: the bars kept are a
   * few more than needed, never fewer). */
  function placeBars(fig) {
    if (!bars) return;
    var lay = fig.layout, m = lay.margin || {};
    var xr = lay.xaxis && lay.xaxis.range, yr = lay.yaxis && lay.yaxis.range;
    if (!xr || !yr) {
      var lo = Infinity, hi = -Infinity, top = Infinity, bottom = -Infinity;
      for (var i = 0; i < bars.x.length; i++) {
        var a = bars.x[i], b = a + Math.max(bars.dur[i] || 0, 0) / 1e6;
        if (a < lo) lo = a;
        if (b > hi) hi = b;
        if (bars.y[i] < top) top = bars.y[i];
        if (bars.y[i] > bottom) bottom = bars.y[i];
      }
      xr = xr || [lo, hi > lo ? hi : lo + 1];
      yr = yr || [top, bottom > top ? bottom : top + 1];
    }
    var w = gd.clientWidth - (m.l || 0) - (m.r || 0), h = gd.clientHeight - (m.t || 0) - (m.b || 0);
    var v = barWindow(xr, yr, w, h);
    var picked = pickBars(v);
    bars.slots.forEach(function (k, j) {
      if (k < 0) return;
      fig.data[k].x = picked[j][0];
      fig.data[k].y = picked[j][1];
    });
    bars.view = v;
  }

  /** After a zoom or pan: pick the bars again once the view settles, if the
   * drawn ones no longer do. */
  function onRelayout() {
    if (!bars) return;
    clearTimeout(barTimer);
    barTimer = setTimeout(function () {
      var pool = bars, full = gd._fullLayout;
      if (!pool || !full || !full.xaxis || !full._size) return;
      var v = barWindow(full.xaxis.range, full.yaxis.range, full._size.w, full._size.h);
      if (barsCover(pool.view, v)) return;
      var picked = pickBars(v);
      var slots = [], xs = [], ys = [];
      pool.slots.forEach(function (k, j) {
        if (k < 0) return;
        slots.push(k);
        xs.push(picked[j][0]);
        ys.push(picked[j][1]);
      });
      pool.view = v;
      Plotly.restyle(gd, { x: xs, y: ys }, slots);
    }, BAR_SETTLE_MS);
  }

  var measure = null;  // a 2D context, for the widths of tick labels

  /** Widen the left margin to the widest y tick label, measured in the font
   * plotly draws it in. The figure turns plotly's automargin off: it would
   * draw every WebGL trace a second time once it had measured the labels. */
  function fitLeftMargin(layout) {
    var axis = layout.yaxis || {};
    if (axis.showticklabels === false || !axis.ticktext || !axis.ticktext.length) return;
    measure = measure || document.createElement("canvas").getContext("2d");
    var font = layout.font || {};
    var size = (axis.tickfont && axis.tickfont.size) || font.size || 12;
    measure.font = size + "px " + (font.family || '"Open Sans", verdana, arial, sans-serif');
    var widest = 0;
    axis.ticktext.forEach(function (text) {
      // The labels are HTML-escaped for plotly; measure what it shows.
      var shown = String(text).replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
      widest = Math.max(widest, measure.measureText(shown).width);
    });
    layout.margin = layout.margin || {};
    layout.margin.l = Math.max(layout.margin.l || 0, Math.ceil(widest) + 16);
  }

  function draw(data, st, key) {
    page = data;
    lookup = null;
    highlighted = null;
    detailKey = null;
    var fig = data.figure;
    fig.layout.uirevision = key;
    var focus = st.focus ? find(st.focus, st.trace) : null;
    if (focus && data.clickable && data.figure) {
      var tr = fig.data[roleIndex(focus[0], fig.data)];
      var y = tr.y[focus[1]];
      var rows = 0;
      tr.y.forEach(function (v) { if (v > rows) rows = v; });
      if (rows > 300) fig.layout.yaxis.range = [y + 60, y - 60];
    }
    clearTimeout(barTimer);
    bars = null;
    deriveFigure(fig);
    fitLeftMargin(fig.layout);
    placeBars(fig);
    var ring = roleIndex("selected", fig.data);
    if (ring >= 0) {  // the selection ring drawn with the rest, not by a second draw
      var point = selectionPoint(st, fig.data);
      fig.data[ring].x = point.x;
      fig.data[ring].y = point.y;
    }
    header(data, st);
    hoodPanel(data, st);
    patternsPanel(data);
    drawNotices(data, st);
    performance.mark("tg:react");
    return Plotly.react(gd, fig.data, fig.layout, CONFIG).then(function () {
      performance.mark("tg:drawn");
      drawnKey = key;
      if (!gd.__tgBound) {
        gd.__tgBound = true;
        gd.on("plotly_click", onClick);
        gd.on("plotly_relayout", onRelayout);
      }
    });
  }

  // --- WebGL set up while the figure is on its way -----------------------
  // A big neighbourhood keeps the server busy for a second or more (100,000
  // spans: 1.5-2 s), while the page waits. Meanwhile plotly can create its
  // WebGL contexts and regl and compile the shaders of markers and lines,
  // drawing a plot with nothing to see; the figure's react then reuses all
  // of it (100,000 spans: first draw 0.37-0.65 s -> 0.18-0.27 s). It costs a
  // page about as much as it saves, so it is only worth starting when the
  // figure is slow to come: not before WARM_AFTER_MS.
  var WARM_AFTER_MS = 400;

  function warmUp(early) {
    if (!early) return;
    var arrived = false;
    early.response.then(function () { arrived = true; }, function () { arrived = true; });
    setTimeout(function () {
      if (arrived || gd.data || drawnKey) return;
      performance.mark("tg:warm");
      var bg = "rgba(0,0,0,0)";
      Plotly.newPlot(gd, [
        { type: "scattergl", x: [0, 1], y: [0, 0], mode: "lines+markers", line: { color: bg, width: 1 }, marker: { color: bg, size: [0, 6] }, hoverinfo: "skip" },
        { type: "scattergl", x: [0, 1], y: [1, 1], mode: "lines", line: { color: bg, width: 4 }, hoverinfo: "skip" },
        { type: "scattergl", x: [0], y: [0], mode: "markers", marker: { color: bg, size: 6 }, hoverinfo: "skip" }
      ], {
        paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)", showlegend: false,
        xaxis: { visible: false }, yaxis: { visible: false }, margin: { l: 10, r: 10, t: 36, b: 48 }
      }, CONFIG);
    }, WARM_AFTER_MS);
  }

  // --- mapping points <-> spans -------------------------------------------
  function buildLookup() {
    lookup = new Map();
    [["spans", "spans"], ["ghosts", "ghosts"]].forEach(function (pair) {
      var c = page.clickable[pair[1]];
      if (!c) return;
      for (var i = 0; i < c.t.length; i++) {
        var k = page.level === "span" ? page.traces[c.t[i]] + ":" + c.s[i] : (page.level === "trace" ? page.traces[c.t[i]] : c.s[i]);
        if (!lookup.has(k)) lookup.set(k, [pair[0], i]);
        if (page.level === "span" && !lookup.has(c.s[i])) lookup.set(c.s[i], [pair[0], i]);
      }
    });
  }

  /** [role, index] of a span id (in `trace` first), a trace id or a service. */
  function find(id, trace) {
    if (!page) return null;
    if (!lookup) buildLookup();
    if (page.level === "span") return lookup.get(trace + ":" + id) || lookup.get(id) || null;
    return lookup.get(id) || null;
  }

  function pointKey(role, i) {
    var c = page.clickable[role === "ghosts" ? "ghosts" : "spans"];
    return { trace: c.t[i] >= 0 ? page.traces[c.t[i]] : "", span: c.s[i], ghost: role === "ghosts" };
  }

  function onClick(ev) {
    if (!ev.points || !ev.points.length) return;
    var pt = ev.points[0];
    var meta = pt.data.meta || {};
    var i = pt.pointNumber !== undefined ? pt.pointNumber : pt.pointIndex;
    if (meta.role === "spans" || meta.role === "ghosts") {
      openPoint(pointKey(meta.role, i));
    } else if (meta.role === "link") {
      var pair = page.links[meta.link_type][Math.floor(i / 3)];
      if (!pair) return;
      var end = i % 3 === 0 ? 0 : 1;
      var target = pair[end];
      if (page.traces[target[0]] === state.trace) target = pair[1 - end];
      openPoint({ trace: page.traces[target[0]] || "", span: target[1], ghost: false, viaLink: true });
    }
  }

  /** A click on a span (or link end): select it, or re-centre on its trace. */
  function openPoint(p) {
    if (page.level === "service") {
      serviceInfo(p.span);
      return;
    }
    if (page.level === "trace") {
      if (p.trace && p.trace !== state.trace) go(with_({ trace: p.trace, focus: "", select: "" }));
      else go(with_({ select: "" }));
      return;
    }
    var stored = page.unloaded.indexOf(p.trace) >= 0;  // outside the view, but stored
    if (p.trace === state.trace || ((p.ghost || isGhost(p.trace, p.span)) && !stored)) {
      go(with_({ select: p.span }));
    } else {
      go(with_({ trace: p.trace, focus: p.span, select: p.span }));
    }
  }

  function isGhost(trace, span) {
    var f = find(span, trace);
    return f && f[0] === "ghosts";
  }

  function recentre(trace, span) {
    if (trace === state.trace) go(with_({ select: span }));
    else go(with_({ trace: trace, focus: span, select: span }));
  }

  // --- selection ---------------------------------------------------------
  /** The selected point of state `st` in `traces` (the figure's data, before
   * or after drawing): {hit: [role, index] or null, x: [..], y: [..]}. */
  function selectionPoint(st, traces) {
    var sel = st.select || st.focus;
    var hit = null;
    if (page.level === "span" && sel) hit = find(sel, st.trace);
    if (page.level === "trace") hit = find(st.trace);
    if (!hit) return { hit: null, x: [], y: [] };
    var src = traces[roleIndex(hit[0], traces)];
    return { hit: hit, x: [src.x[hit[1]]], y: [src.y[hit[1]]] };
  }

  function applySelection(st) {
    var sel = st.select || st.focus;
    var idx = roleIndex("selected");
    if (idx < 0) return;
    var point = selectionPoint(st, gd.data);
    var hit = point.hit;
    placeMarkers(idx, point.x, point.y);  // draw() put it in the figure already
    var key = st.trace + "|" + sel + "|" + page.level;
    if (key === detailKey) return;
    detailKey = key;
    if (page.level === "span" && sel && hit) {
      var p = pointKey(hit[0], hit[1]);
      spanPanel(p.trace, p.span, p.ghost);
    } else if (page.level === "span" && sel) {
      selectionBox.replaceChildren(el("p", { cls: "notice", text: "Span " + sel + " is not in this diagram (filtered out by the link types, or not stored)." }));
      journeyBox.hidden = true;
    } else if (page.level === "trace") {
      traceInfo(st.trace);
    } else {
      selectionBox.replaceChildren(el("div", { cls: "panel-empty" }, [el("h3", { text: "Selection" }), el("p", { text: "Click a span for its details and links." })]));
      journeyBox.hidden = true;
    }
  }

  function spanPanel(trace, span, ghost) {
    selectionBox.replaceChildren(el("p", { cls: "muted", text: "Loading the span…" }));
    journeyBox.hidden = true;
    var mine = detailKey;
    tg.getJSON("/traces/" + trace + "/spans/" + span).then(function (data) {
      if (mine !== detailKey) return;
      tg.renderSpan(selectionBox, data, {
        spanLink: function (t, s) {
          var next = t === state.trace ? with_({ select: s }) : with_({ trace: t, focus: s, select: s });
          return { href: toUrl(next), onClick: function () { recentre(t, s); } };
        },
      });
      var actions = [el("a", { cls: "button small ghost", href: "/traces/" + trace + "?focus=" + span, text: "Open in trace" })];
      if (trace !== state.trace && data.span) {
        actions.unshift(el("button", { cls: "small", text: "Centre on this trace", attrs: { type: "button" }, on: { click: function () { recentre(trace, span); } } }));
      }
      selectionBox.prepend(el("div", { cls: "panel-actions" }, actions));
      if (data.span && !ghost) journeyPanel(trace, span, mine);
    }).catch(function (err) {
      if (mine !== detailKey) return;
      selectionBox.replaceChildren(el("p", { cls: "notice", text: "Could not load the span: " + err.message }));
    });
  }

  function traceInfo(trace) {
    var label = page.labels[trace] || ["", ""];
    selectionBox.replaceChildren(
      el("h3", {}, [el("span", { cls: "svc", text: label[0] || "?" }), " ", el("span", { text: label[1] })]),
      el("p", { cls: "tid", text: trace }),
      el("p", { cls: "muted", text: "Trace level: one node per trace, links aggregated. Click another trace to re-centre, or switch Level to spans." }),
      el("div", { cls: "panel-actions" }, [
        el("button", { cls: "small", text: "Show spans", attrs: { type: "button" }, on: { click: function () { go(with_({ level: "span" })); } } }),
        el("a", { cls: "button small ghost", href: "/traces/" + trace, text: "Open in trace" }),
      ])
    );
    journeyBox.hidden = true;
  }

  function serviceInfo(service) {
    selectionBox.replaceChildren(
      el("h3", {}, [el("span", { cls: "svc", text: service })]),
      el("p", { cls: "muted", text: "Service level: spans grouped by service.name. Switch Level to spans or traces to navigate." }),
      el("div", { cls: "panel-actions" }, [el("a", { cls: "button small ghost", href: "/?service=" + encodeURIComponent(service), text: "Search its traces" })])
    );
  }

  function journeyPanel(trace, span, mine) {
    tg.getJSON("/api/journey/" + trace + "/" + span).then(function (j) {
      if (mine !== detailKey) return;
      var colours = page.colours;
      var total = Math.max(j.latency, 1);
      var parts = [el("h3", { text: "Journey" }),
        el("p", { cls: "muted", text: j.steps.length + " steps across " + j.traces.length + " trace(s) · end to end " + tg.fmtNs(j.latency) }),
        el("div", { cls: "split", title: "busy " + tg.fmtNs(j.busy) + " · waiting " + tg.fmtNs(j.waiting) }, [
          el("span", { cls: "busy", style: { width: (100 * j.busy / total).toFixed(1) + "%" } }),
          el("span", { cls: "waiting", style: { width: (100 * j.waiting / total).toFixed(1) + "%" } }),
        ]),
        el("p", { cls: "legendline" }, [el("span", { cls: "sw busy" }), " busy " + tg.fmtNs(j.busy) + "  ", el("span", { cls: "sw waiting" }), " waiting " + tg.fmtNs(j.waiting)]),
      ];
      var gapBefore = {};
      j.gaps.forEach(function (g) { gapBefore[g.effect] = g; });
      parts.push(el("ol", { cls: "steps" }, j.steps.map(function (s, i) {
        var g = gapBefore[s.id];
        return el("li", { cls: (i === j.focus ? "focus " : "") + "via-" + s.via }, [
          g ? el("div", { cls: "gap", text: g.kind + " " + tg.fmtNs(g.duration) }) : null,
          s.via === "link" ? tg.typeChip(colours, s.link_type || "link") : null,
          s.via === "link" ? " " : null,
          el("a", { href: toUrl(s.trace_id === state.trace ? with_({ select: s.span_id }) : with_({ trace: s.trace_id, focus: s.span_id, select: s.span_id })), on: { click: function (ev) { ev.preventDefault(); recentre(s.trace_id, s.span_id); } } }, [
            el("span", { cls: "svc", text: s.service || "?" }), " ", el("span", { text: s.name }),
          ]),
          el("span", { cls: "muted", text: " " + tg.fmtNs(s.end - s.start) }),
        ]);
      })));
      if (j.dangling.length) parts.push(el("p", { cls: "missing", text: j.dangling.length + " link target(s) not stored: the journey stops there." }));
      journeyBox.replaceChildren.apply(journeyBox, parts);
      journeyBox.hidden = false;
    }).catch(function () { journeyBox.hidden = true; });
  }

  // --- panels ------------------------------------------------------------
  function header(data, st) {
    var label = data.labels[st.trace] || ["", ""];
    document.getElementById("graph-title").replaceChildren(el("span", { cls: "svc", text: label[0] || "(no service)" }), " ", el("span", { cls: "name", text: label[1] }));
    document.getElementById("graph-trace").textContent = st.trace;
    var s = data.stats;
    document.getElementById("graph-stats").textContent = s.traces + " traces · " + s.spans.toLocaleString() + " spans · " + s.links + " links" + (s.ghosts ? " · " + s.ghosts + " linked spans outside the view" : "");
    document.title = "Graph · " + (label[1] || st.trace) + " · tracegraph";
  }

  function drawNotices(data, st) {
    var items = [];
    bannerBox.textContent = data.banner || "";
    bannerBox.hidden = !data.banner;
    if (data.snapshot) {
      items.push(el("div", { cls: "note warn snapshot-note" }, [
        "Snapshot taken " + data.snapshot.when + "; the live traces may have changed. ",
        el("button", { cls: "small", text: "Open the live view", attrs: { type: "button" }, on: { click: function () { go(with_({ snapshot: "" })); } } }),
      ]));
    }
    if (data.notice) {
      items.push(el("div", { cls: "note warn" }, [data.notice + " ",
        el("button", { cls: "small", text: "Show all spans anyway", attrs: { type: "button" }, on: { click: function () { go(with_({ level: "span", max_spans: String(Math.max(data.stats.spans, 20000)) })); } } })]));
    }
    if (data.stats.incoming_known === false) {
      items.push(el("div", { cls: "note warn", text: "incoming links unknown for this backend: forward (effects) cannot be followed." }));
    }
    if (data.truncated) {
      var reasons = {};
      data.cut.forEach(function (c) { reasons[c.reason] = (reasons[c.reason] || 0) + 1; });
      var more = Math.min(1000, data.max_traces * 2);
      items.push(el("div", { cls: "note warn" }, [
        "Truncated: " + data.cut.length + " linked trace(s) not loaded (" + Object.keys(reasons).map(function (r) { return reasons[r] + " by " + r; }).join(", ") + "). ",
        reasons.max_traces && data.max_traces < 1000 ? el("button", { cls: "small", text: "Raise max traces to " + more, attrs: { type: "button" }, on: { click: function () { go(with_({ max_traces: String(more) })); } } }) : null,
        reasons.max_spans ? el("button", { cls: "small", text: "Raise max spans to " + Math.min(500000, data.max_spans * 2).toLocaleString(), attrs: { type: "button" }, on: { click: function () { go(with_({ max_spans: String(Math.min(500000, data.max_spans * 2)) })); } } }) : null,
      ]));
    }
    if (data.frontier.length) {
      var links = data.frontier.reduce(function (a, c) { return a + c.links; }, 0);
      items.push(el("div", { cls: "note" }, [
        data.frontier.length + " more trace(s) one step further (" + links + " links) beyond depth " + data.depth + ". ",
        data.depth < 10 ? el("button", { cls: "small", attrs: { type: "button", id: "expand-depth" }, text: "Expand to depth " + (data.depth + 1), on: { click: function () { go(with_({ depth: String(data.depth + 1) })); } } }) : null,
      ]));
    }
    if (st.level === "" && data.level !== "span" && !data.notice) {
      items.push(el("div", { cls: "note", text: "Showing " + data.level + "s." }));
    }
    notices.replaceChildren.apply(notices, items);
  }

  function hoodPanel(data) {
    var s = data.stats;
    var rows = [el("h3", { text: "Neighbourhood" })];
    var types = Object.keys(s.link_types || {});
    rows.push(el("ul", { cls: "legendlist" }, types.length ? types.map(function (t) {
      return el("li", {}, [tg.typeChip(data.colours, t), " " + s.link_types[t] + " link" + (s.link_types[t] === 1 ? "" : "s")]);
    }) : [el("li", { cls: "muted", text: "No links: this trace is on its own. Try depth 2, or another trace from the search." })]));
    var anomalies = Object.keys(s.anomalies || {}).filter(function (k) { return s.anomalies[k]; });
    if (anomalies.length) {
      rows.push(el("p", { cls: "muted", text: "Repaired for display: " + anomalies.map(function (k) { return s.anomalies[k] + " " + k.replace(/_/g, " "); }).join(", ") }));
    }
    if (data.missing.length) rows.push(el("p", { cls: "missing", text: data.missing.length + " linked trace(s) asked for but not stored." }));
    rows.push(el("p", { cls: "muted", text: "Graph built in " + s.elapsed_ms + " ms." }));
    hoodBox.replaceChildren.apply(hoodBox, rows);
  }

  function patternsPanel(data) {
    var parts = [el("h3", { text: "Patterns (" + data.patterns.length + ")" })];
    if (!data.patterns.length) {
      parts.push(el("p", { cls: "muted", text: "No cross-trace pattern found here. Increase the depth or pick a trace with links." }));
    }
    var list = el("ul", { cls: "findings" });
    data.patterns.forEach(function (f, n) {
      var item = el("li", { attrs: { tabindex: "0", role: "button", "data-n": n } }, [
        el("div", { cls: "fkind", text: f.kind.replace(/_/g, " ") }),
        el("div", { text: f.summary }),
        el("div", { cls: "muted", text: f.spans.length + " spans · " + f.traces.length + " traces" }),
      ]);
      function toggle() {
        var on = highlighted !== n;
        list.querySelectorAll("li").forEach(function (li) { li.classList.remove("on"); });
        if (on) item.classList.add("on");
        highlight(on ? f : null);
        highlighted = on ? n : null;
      }
      item.addEventListener("click", toggle);
      item.addEventListener("keydown", function (ev) { if (ev.key === "Enter") toggle(); });
      list.appendChild(item);
    });
    parts.push(list);
    patternsBox.replaceChildren.apply(patternsBox, parts);
  }

  function highlight(f) {
    var idx = roleIndex("highlight");
    var x = [], y = [];
    if (f) {
      var ids = page.level === "trace" ? f.traces : f.spans.map(function (id) { return id.split(":"); });
      ids.forEach(function (id) {
        var hit = page.level === "trace" ? find(id) : find(id[1], id[0]);
        if (!hit) return;
        var src = gd.data[roleIndex(hit[0])];
        x.push(src.x[hit[1]]);
        y.push(src.y[hit[1]]);
      });
    }
    placeMarkers(idx, x, y);
  }

  /** Move the markers of plotly trace `idx` (the selection ring, the
   * highlight) to x/y, unless they are there already: a restyle redraws
   * every WebGL trace (a second at 100,000 spans). */
  function placeMarkers(idx, x, y) {
    var cur = gd.data[idx];
    var same = cur.x.length === x.length && x.every(function (v, k) { return cur.x[k] === v && cur.y[k] === y[k]; });
    if (!same) Plotly.restyle(gd, { x: [x], y: [y] }, [idx]);
  }

  // --- controls ----------------------------------------------------------
  form.addEventListener("change", function (ev) {
    var t = ev.target;
    if (t.name === "types") {
      var on = Array.prototype.filter.call(form.querySelectorAll("input[name=types]"), function (i) { return i.checked; }).map(function (i) { return i.value; });
      if (!on.length) { t.checked = true; return; }
      go(with_({ types: on.length === ALL_TYPES.length ? "" : on.join(",") }));
    } else if (t.name === "layout" || t.name === "level" || t.name === "depth" || t.name === "direction") {
      var change = {};
      change[t.name] = t.value;
      go(with_(change));
    }
  });

  var copyButton = document.getElementById("copy-link");
  copyButton.addEventListener("click", function () {
    var url = window.location.href;
    tg.copyText(url).then(function () {
      copyButton.textContent = "Copied ✓";
    }, function () {
      window.prompt("Copy this link:", url);
    }).then(function () { setTimeout(function () { copyButton.textContent = "Copy link"; }, 1500); });
  });

  var shareButton = document.getElementById("share-snapshot");
  var shareBox = document.getElementById("share-box");
  var shareUrl = document.getElementById("share-url");
  var shareStatus = document.getElementById("share-status");
  shareButton.addEventListener("click", function () {
    var q = new URLSearchParams();
    GRAPH_KEYS.concat(["layout", "focus"]).forEach(function (k) { if (state[k] && state[k] !== DEFAULTS[k]) q.set(k, state[k]); });
    shareButton.disabled = true;
    shareStatus.textContent = "storing…";
    shareBox.hidden = false;
    fetch("/api/shares", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ trace_id: state.trace, params: q.toString() }),
    }).then(function (r) {
      return r.json().then(function (body) {
        if (r.status !== 201) throw new Error(body && body.error ? body.error : "HTTP " + r.status);
        return body;
      });
    }).then(function (made) {
      var url = window.location.origin + made.url;
      shareUrl.value = url;
      shareUrl.select();
      return tg.copyText(url).then(function () { shareStatus.textContent = "copied ✓"; }, function () { shareStatus.textContent = "select and copy"; });
    }).catch(function (err) {
      shareUrl.value = "";
      shareStatus.textContent = "could not share: " + err.message;
    }).then(function () { shareButton.disabled = false; });
  });

  window.addEventListener("popstate", function (ev) {
    render(ev.state && ev.state.trace ? ev.state : parse(window.location));
  });

  var first = parse(window.location);
  history.replaceState(first, "", toUrl(first));
  var early = window.__tgPrefetch;
  render(first);
  warmUp(early);
})();
