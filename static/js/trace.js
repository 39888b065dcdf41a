/* Trace page: click a span to open its detail panel; ?focus=<span> scrolls to it. */
(function () {
  "use strict";
  var list = document.getElementById("waterfall");
  var panel = document.getElementById("span-panel");
  var graphButton = document.getElementById("graph-button");
  var traceId = list.dataset.trace;
  var current = null;

  function select(spanId, scroll) {
    var row = document.getElementById("span-" + spanId);
    if (!row) return;
    if (current) current.classList.remove("selected");
    current = row;
    row.classList.add("selected");
    if (scroll) {
      row.scrollIntoView({ block: "center" });
      // Rows off screen are laid out at an estimated height (content-visibility
      // in tracegraph.css): once the rows around this one are drawn, centre again.
      requestAnimationFrame(function () { row.scrollIntoView({ block: "center" }); });
    }
    graphButton.href = graphButton.dataset.base + "?focus=" + encodeURIComponent(spanId);
    var url = new URL(window.location.href);
    url.searchParams.set("focus", spanId);
    history.replaceState(null, "", url.pathname + url.search);
    panel.replaceChildren(tg.el("p", { cls: "muted", text: "Loading…" }));
    tg.getJSON("/traces/" + traceId + "/spans/" + spanId).then(function (data) {
      tg.renderSpan(panel, data, {
        spanLink: function (t, s) {
          if (t === traceId) {
            return { href: "?focus=" + s, onClick: function () { select(s, true); } };
          }
          return { href: "/traces/" + t + "?focus=" + s };
        },
      });
      panel.prepend(tg.el("div", { cls: "panel-actions" }, [
        tg.el("a", { cls: "button small", href: "/graph/" + traceId + "?focus=" + spanId, text: "Graph from this span" }),
      ]));
    }).catch(function (err) {
      panel.replaceChildren(tg.el("p", { cls: "notice", text: "Could not load the span: " + err.message }));
    });
  }

  list.addEventListener("click", function (ev) {
    var row = ev.target.closest("li.span");
    if (row) select(row.dataset.span, false);
  });
  list.addEventListener("keydown", function (ev) {
    if (ev.key !== "Enter" && ev.key !== " ") return;
    var row = ev.target.closest("li.span");
    if (row) { ev.preventDefault(); select(row.dataset.span, false); }
  });
  if (list.dataset.focus) select(list.dataset.focus, true);
})();
