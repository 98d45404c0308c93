// The review page: a worklist of 10,000s of rows that renders only what is in view.
// Every value from the results goes on screen with textContent or as an attribute set by
// the DOM: a film named <script> is shown as that text and runs nothing.
(function () {
  "use strict";
  var t0 = performance.now();
  var DATA = JSON.parse(document.getElementById("rows").textContent);
  var ROWS = DATA.rows;
  var ROW_PX = 56, OVERSCAN = 8;
  var ZONES = ["right-upper", "right-middle", "right-lower", "left-upper", "left-middle", "left-lower"];
  var state = { sortKey: "p", sortDir: -1, shown: [], selected: -1, map: true };
  var $ = function (id) { return document.getElementById(id); };
  var list = $("list"), spacer = $("spacer");

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function baseName(path) { var parts = path.split(/[\\/]/); return parts[parts.length - 1] || path; }
  function prob(r) { return r.p === null || r.p === undefined ? "" : r.p.toFixed(3); }
  function call(r) { return r.e ? "error" : r.y === true ? "positive" : r.y === false ? "negative" : ""; }
  function reliable(r) { return r.e ? "" : r.r === true ? "reliable" : r.r === false ? "not reliable" : ""; }

  // --- filters ------------------------------------------------------------------------
  (function fillReasons() {
    var codes = {};
    ROWS.forEach(function (r) { r.c.forEach(function (c) { codes[c] = (codes[c] || 0) + 1; }); });
    var sel = $("f-reason");
    Object.keys(codes).sort().forEach(function (c) {
      var o = el("option", null, c + " (" + codes[c] + ")");
      o.value = c;
      sel.appendChild(o);
    });
  })();

  function keep(r) {
    var q = $("f-search").value.trim().toLowerCase();
    var callF = $("f-call").value, relF = $("f-reliable").value, reasonF = $("f-reason").value, errF = $("f-errors").value;
    if (q && r.n.toLowerCase().indexOf(q) < 0) return false;
    if (callF !== "all" && call(r) !== callF) return false;
    if (relF === "yes" && !(r.r === true && !r.e)) return false;
    if (relF === "no" && !(r.r === false && !r.e)) return false;
    if (reasonF !== "all" && r.c.indexOf(reasonF) < 0) return false;
    if (errF === "only" && !r.e) return false;
    if (errF === "none" && r.e) return false;
    return true;
  }

  var KEYS = {
    n: function (r) { return baseName(r.n).toLowerCase(); },
    p: function (r) { return r.p === null || r.p === undefined ? -1 : r.p; },
    y: function (r) { return call(r); },
    r: function (r) { return reliable(r); },
    rs: function (r) { return r.c.join(","); },
    pt: function (r) { return r.pt; },
    w: function (r) { return r.w.length; }
  };

  function apply() {
    var key = KEYS[state.sortKey], dir = state.sortDir;
    var current = state.selected >= 0 ? state.shown[state.selected] : null;
    state.shown = ROWS.filter(keep).sort(function (a, b) {
      var x = key(a), y = key(b);
      return (x < y ? -1 : x > y ? 1 : a.i - b.i) * (x === y ? 1 : dir);
    });
    state.selected = current ? state.shown.indexOf(current) : -1;
    if (state.selected < 0 && state.shown.length) state.selected = 0;
    spacer.style.height = state.shown.length * ROW_PX + "px";
    document.body.dataset.shown = String(state.shown.length);
    $("count").textContent = state.shown.length + " of " + ROWS.length + " films shown";
    document.querySelectorAll("#cols button").forEach(function (b) {
      b.setAttribute("aria-sort", b.dataset.sort === state.sortKey ? (dir > 0 ? "ascending" : "descending") : "none");
    });
    render();
    showDetail();
  }

  // --- the list: only the rows in view exist --------------------------------------------
  function rowElement(r, k) {
    var d = el("div", "row" + (k === state.selected ? " sel" : ""));
    d.style.top = k * ROW_PX + "px";
    d.dataset.k = String(k);
    d.dataset.i = String(r.i);
    var thumb = el("div");
    if (r.t) { var im = el("img"); im.alt = ""; im.loading = "lazy"; im.src = r.t; thumb.appendChild(im); } else thumb.appendChild(el("div", "noimg"));
    d.appendChild(thumb);
    var name = el("div", "name", baseName(r.n)); name.title = r.n; d.appendChild(name);
    d.appendChild(el("div", null, prob(r)));
    var c = call(r); d.appendChild(el("div", c === "positive" ? "pos" : c === "negative" ? "neg" : c === "error" ? "err" : "", c));
    var rel = reliable(r); d.appendChild(el("div", rel === "not reliable" ? "unrel" : "", rel));
    var why = r.e ? r.e : r.rs.join("; "); var w = el("div", r.e ? "err" : "", why); w.title = why; d.appendChild(w);
    d.appendChild(el("div", null, r.pt));
    d.appendChild(el("div", null, r.w.length ? String(r.w.length) : ""));
    return d;
  }

  function render() {
    var t = performance.now();
    var first = Math.max(0, Math.floor(list.scrollTop / ROW_PX) - OVERSCAN);
    var last = Math.min(state.shown.length, Math.ceil((list.scrollTop + list.clientHeight) / ROW_PX) + OVERSCAN);
    var frag = document.createDocumentFragment();
    for (var k = first; k < last; k++) frag.appendChild(rowElement(state.shown[k], k));
    spacer.replaceChildren(frag);
    document.body.dataset.rendered = String(last - first);
    document.body.dataset.renderMs = (performance.now() - t).toFixed(2);  // what drawing the rows in view cost (bench review)
  }
  // browsers fire scroll and resize once per frame at most, in the rendering step: drawing here is drawing once a frame
  list.addEventListener("scroll", render);
  window.addEventListener("resize", render);
  spacer.addEventListener("click", function (ev) {
    var d = ev.target.closest(".row");
    if (d) select(Number(d.dataset.k));
  });

  // --- one film -----------------------------------------------------------------------
  function showDetail() {
    var r = state.shown[state.selected];
    document.body.dataset.selected = r ? String(r.i) : "";
    document.body.dataset.map = state.map ? "on" : "off";
    var box = $("detail");
    box.replaceChildren();
    if (!r) { box.appendChild(el("p", null, "No film matches the filters.")); return; }
    box.appendChild(el("h2", null, r.n));
    var src = state.map && r.ov ? r.ov : r.f || r.ov;
    if (src) {
      var im = el("img"); im.id = "view"; im.alt = state.map && r.ov ? "the film with its map" : "the film"; im.src = src;
      box.appendChild(im);
    } else box.appendChild(el("p", "keys", "No picture of this film (no overlay was written and the film could not be read)."));
    var line = el("p");
    if (r.e) line.appendChild(el("span", "err", "Error: " + r.e));
    else {
      var c = call(r);
      line.appendChild(el("span", c === "positive" ? "pos" : "neg", "probability " + prob(r) + " - " + c));
      line.appendChild(el("span", r.r === false ? "unrel" : "", " - " + reliable(r)));
      if (r.pt) line.appendChild(el("span", null, " - pattern " + r.pt));
    }
    box.appendChild(line);
    if (Object.keys(r.z).length) {
      var t = el("table"); t.id = "zones";
      var head = el("tr"); head.appendChild(el("th", null, "share of the map")); head.appendChild(el("th", null, "right")); head.appendChild(el("th", null, "left")); t.appendChild(head);
      ["upper", "middle", "lower"].forEach(function (level) {
        var tr = el("tr"); tr.appendChild(el("th", null, level));
        ["right", "left"].forEach(function (side) {
          var v = r.z[side + "-" + level];
          tr.appendChild(el("td", null, v === undefined ? "" : Math.round(v * 100) + " %"));
        });
        t.appendChild(tr);
      });
      box.appendChild(t);
    }
    [["Reasons", r.rs], ["Warnings", r.w]].forEach(function (part) {
      if (!part[1].length) return;
      box.appendChild(el("h3", null, part[0]));
      var ul = el("ul");
      part[1].forEach(function (s) { ul.appendChild(el("li", null, s)); });
      box.appendChild(ul);
    });
    box.appendChild(el("p", "keys", "Keys: ↓ or j next film, ↑ or k previous, m map on/off."));
  }

  function select(k) {
    if (!state.shown.length) return;
    state.selected = Math.max(0, Math.min(state.shown.length - 1, k));
    var top = state.selected * ROW_PX;
    if (top < list.scrollTop) list.scrollTop = top;
    else if (top + ROW_PX > list.scrollTop + list.clientHeight) list.scrollTop = top + ROW_PX - list.clientHeight;
    render();
    showDetail();
  }

  document.addEventListener("keydown", function (ev) {
    if (ev.target && (ev.target.tagName === "INPUT" || ev.target.tagName === "SELECT")) return;
    if (ev.key === "ArrowDown" || ev.key === "j") { select(state.selected + 1); ev.preventDefault(); }
    else if (ev.key === "ArrowUp" || ev.key === "k") { select(state.selected - 1); ev.preventDefault(); }
    else if (ev.key === "m") { state.map = !state.map; showDetail(); }
  });

  ["f-search", "f-call", "f-reliable", "f-reason", "f-errors"].forEach(function (id) {
    $(id).addEventListener(id === "f-search" ? "input" : "change", apply);
  });
  document.querySelectorAll("#cols button").forEach(function (b) {
    b.addEventListener("click", function () {
      if (state.sortKey === b.dataset.sort) state.sortDir = -state.sortDir;
      else { state.sortKey = b.dataset.sort; state.sortDir = b.dataset.sort === "p" || b.dataset.sort === "w" ? -1 : 1; }
      apply();
    });
  });

  apply();
  document.body.dataset.buildMs = String(Math.round(performance.now() - t0));
  requestAnimationFrame(function () {
    document.body.dataset.firstPaintMs = String(Math.round(performance.now()));
    if (performance.memory) document.body.dataset.heapMb = String(Math.round(performance.memory.usedJSHeapSize / 1048576));
    document.body.dataset.ready = "true";
  });
})();
