/* tracegraph page helpers. Every piece of trace data reaches the DOM through
 * textContent (tg.el), never innerHTML: names and attributes are data, and a
 * span called "<img src=x onerror=...>" must show as text. */
(function () {
  "use strict";
  var tg = (window.tg = window.tg || {});

  /** Element with text content; opts: cls, text, href, title, attrs, on. */
  tg.el = function (tag, opts, children) {
    var node = document.createElement(tag);
    opts = opts || {};
    if (opts.cls) node.className = opts.cls;
    if (opts.text !== undefined && opts.text !== null) node.textContent = String(opts.text);
    if (opts.href) node.setAttribute("href", opts.href);
    if (opts.title) node.title = String(opts.title);
    if (opts.attrs) {
      Object.keys(opts.attrs).forEach(function (k) { node.setAttribute(k, String(opts.attrs[k])); });
    }
    if (opts.style) {
      Object.keys(opts.style).forEach(function (k) { node.style[k] = opts.style[k]; });
    }
    if (opts.on) {
      Object.keys(opts.on).forEach(function (k) { node.addEventListener(k, opts.on[k]); });
    }
    (children || []).forEach(function (c) {
      if (c === null || c === undefined || c === false) return;
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  };

  tg.fmtNs = function (ns) {
    if (ns === null || ns === undefined) return "?";
    var v = Math.abs(ns), sign = ns < 0 ? "-" : "";
    if (v < 1e3) return sign + v.toFixed(0) + " ns";
    if (v < 1e6) return sign + (v / 1e3).toFixed(1) + " µs";
    if (v < 1e9) return sign + (v / 1e6).toFixed(2) + " ms";
    if (v < 120e9) return sign + (v / 1e9).toFixed(1) + " s";
    if (v < 3600e9) return sign + (v / 60e9).toFixed(1) + " min";
    return sign + (v / 3600e9).toFixed(1) + " h";
  };

  tg.fmtTime = function (ns) {
    var d = new Date(Math.floor(ns / 1e6));
    return d.toISOString().replace("T", " ").replace("Z", " UTC");
  };

  tg.getJSON = function (url) {
    return fetch(url, { headers: { Accept: "application/json" } }).then(function (r) {
      return r.json().then(
        function (body) {
          if (!r.ok) throw new Error(body && body.error ? body.error : "HTTP " + r.status);
          return body;
        },
        function () { throw new Error("HTTP " + r.status + " (not JSON)"); }
      );
    });
  };

  /** Copy text; navigator.clipboard when allowed, else a hidden textarea. */
  tg.copyText = function (text) {
    function fallback() {
      var area = tg.el("textarea", { attrs: { readonly: "" }, style: { position: "fixed", top: "-1000px" } });
      area.value = text;
      document.body.appendChild(area);
      area.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      area.remove();
      return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
    }
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(fallback);
    }
    return fallback();
  };

  tg.colour = function (colours, type) { return colours[type] || colours.link || "#94a3b8"; };

  tg.typeChip = function (colours, type) {
    return tg.el("span", { cls: "ltype", text: type, style: { borderColor: tg.colour(colours, type), color: tg.colour(colours, type) } });
  };

  function value(v) {
    if (v !== null && typeof v === "object") return JSON.stringify(v);
    return String(v);
  }

  tg.attrTable = function (attrs) {
    var keys = Object.keys(attrs || {});
    if (!keys.length) return tg.el("p", { cls: "muted", text: "none" });
    return tg.el("table", { cls: "attrs" }, [
      tg.el("tbody", {}, keys.sort().map(function (k) {
        return tg.el("tr", {}, [tg.el("th", { text: k }), tg.el("td", { text: value(attrs[k]) })]);
      }))
    ]);
  };

  var KINDS = ["unspecified", "internal", "server", "client", "producer", "consumer"];
  var STATUS = ["unset", "ok", "error"];

  /**
   * Render the span detail (page data of /traces/<id>/spans/<span>) into box.
   * opts.spanLink(traceId, spanId) -> {href, onClick?} for the other end of a link.
   */
  tg.renderSpan = function (box, data, opts) {
    var colours = data.colours || {};
    var s = data.span;
    var parts = [];
    function traceLabel(t) {
      var info = data.traces[t] || {};
      if (!info.stored) return "not stored · trace " + t.slice(0, 12) + "…";
      return (info.root_service || "?") + " · " + (info.root_name || "");
    }
    function linkRow(link, incoming) {
      var otherTrace = incoming ? link.trace_id : link.linked_trace_id;
      var otherSpan = incoming ? link.span_id : link.linked_span_id;
      var info = data.traces[otherTrace] || {};
      var target;
      if (link.invalid) {
        target = tg.el("span", { cls: "missing", text: "invalid (all-zero) span context: not drawn" });
      } else if (!incoming && !info.stored) {
        target = tg.el("span", { cls: "missing", title: "this trace is not stored", text: "not stored: " + otherTrace + "/" + otherSpan });
      } else {
        var dest = opts.spanLink(otherTrace, otherSpan);
        target = tg.el("a", { href: dest.href, text: traceLabel(otherTrace), title: otherTrace + "/" + otherSpan });
        if (dest.onClick) target.addEventListener("click", function (ev) { ev.preventDefault(); dest.onClick(); });
        target.setAttribute("data-trace", otherTrace);
        target.setAttribute("data-span", otherSpan);
      }
      var attrs = link.attributes || {};
      return tg.el("li", { cls: "link " + (incoming ? "in" : "out") }, [
        tg.el("div", {}, [tg.typeChip(colours, link.link_type), " ", incoming ? "from " : "to ", target]),
        Object.keys(attrs).length ? tg.attrTable(attrs) : null,
      ]);
    }
    if (!s) {
      parts.push(tg.el("h3", { text: "Span not stored" }));
      parts.push(tg.el("p", { cls: "muted", text: data.trace_id + "/" + data.span_id + " is a link target that never arrived. " + data.links_in.length + " link(s) point to it." }));
    } else {
      var err = s.status.code === 2;
      parts.push(tg.el("h3", {}, [tg.el("span", { cls: "svc", text: s.service || "(no service)" }), " ", tg.el("span", { text: s.name })]));
      parts.push(tg.el("dl", { cls: "facts" }, [
        tg.el("dt", { text: "Status" }), tg.el("dd", { cls: err ? "err" : "", text: STATUS[s.status.code] + (s.status.message ? ": " + s.status.message : "") }),
        tg.el("dt", { text: "Kind" }), tg.el("dd", { text: KINDS[s.kind] || String(s.kind) }),
        tg.el("dt", { text: "Start" }), tg.el("dd", { text: tg.fmtTime(s.start) }),
        tg.el("dt", { text: "Duration" }), tg.el("dd", { text: tg.fmtNs(s.duration) }),
        tg.el("dt", { text: "Span id" }), tg.el("dd", { cls: "tid", text: s.span_id }),
        tg.el("dt", { text: "Trace id" }), tg.el("dd", { cls: "tid", text: s.trace_id }),
        s.parent_span_id ? tg.el("dt", { text: "Parent" }) : null,
        s.parent_span_id ? tg.el("dd", { cls: "tid", text: s.parent_span_id }) : null,
      ]));
    }
    var out = s ? s.links : [];
    parts.push(tg.el("h4", { text: "Links out (" + out.length + ")", title: "links this span holds: its causes" }));
    if (s && s.dropped && s.dropped.links) parts.push(tg.el("p", { cls: "missing", text: s.dropped.links + " more link(s) dropped by the SDK" }));
    parts.push(out.length ? tg.el("ul", { cls: "linklist" }, out.map(function (l) { return linkRow(l, false); })) : tg.el("p", { cls: "muted", text: "none" }));
    if (data.incoming_known === false) {
      parts.push(tg.el("h4", { text: "Links in", title: "links other spans hold to this one: its effects" }));
      parts.push(tg.el("p", { cls: "missing incoming-unknown", text: "incoming links unknown for this backend (" + (data.backend || "remote") + ")" }));
    } else {
    parts.push(tg.el("h4", { text: "Links in (" + data.links_in.length + ")", title: "links other spans hold to this one: its effects" }));
    parts.push(data.links_in.length ? tg.el("ul", { cls: "linklist" }, data.links_in.map(function (l) { return linkRow(l, true); })) : tg.el("p", { cls: "muted", text: "none" }));
    }
    if (s) {
      parts.push(tg.el("h4", { text: "Attributes" }));
      parts.push(tg.attrTable(s.attributes));
      parts.push(tg.el("h4", { text: "Events (" + s.events.length + ")" }));
      parts.push(s.events.length ? tg.el("ul", { cls: "events" }, s.events.map(function (e) {
        return tg.el("li", {}, [tg.el("span", { cls: "muted", text: "+" + tg.fmtNs(e.time - s.start) + " " }), tg.el("strong", { text: e.name }), Object.keys(e.attributes || {}).length ? tg.attrTable(e.attributes) : null]);
      })) : tg.el("p", { cls: "muted", text: "none" }));
      var res = tg.el("details", {}, [tg.el("summary", { text: "Resource and scope" }), tg.attrTable(Object.assign({}, s.resource, s.scope.name ? { "otel.scope.name": s.scope.name, "otel.scope.version": s.scope.version } : {}))]);
      parts.push(res);
    }
    box.replaceChildren.apply(box, parts);
  };
})();
