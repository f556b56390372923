// Zoom, pan, a cursor and clicks for a packetlab plot (the SVG that `packetlab plot` writes).
// Wheel zooms time around the pointer (with Shift: the y axis), dragging pans, keys + - and the
// arrows do the same, 0 resets. `onPick(t)` hears a click at time t (seconds).
var PacketlabPlot = (function () {
  "use strict";
  function ticks(lo, hi, n) {
    var raw = (hi - lo) / n;
    if (!(raw > 0)) return [lo];
    var p = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = [1, 2, 5, 10].map(function (m) { return m * p; }).find(function (s) { return s >= raw; });
    var out = [];
    for (var v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(v);
    return out;
  }
  function trim(v) {
    var s = v.toFixed(3).replace(/0+$/, "").replace(/\.$/, "");
    return s === "-0" ? "0" : s;
  }
  function short(v) {
    var a = Math.abs(v);
    if (a >= 1e9) return trim(v / 1e9) + "G";
    if (a >= 1e6) return trim(v / 1e6) + "M";
    if (a >= 1e4) return trim(v / 1e3) + "k";
    return trim(v);
  }
  var NS = "http://www.w3.org/2000/svg";
  function el(name, attrs, text) {
    var e = document.createElementNS(NS, name);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function attach(svg, onPick) {
    var area = svg.querySelector("svg.area");
    var X = +area.getAttribute("x"), Y = +area.getAttribute("y");
    var W = +area.getAttribute("width"), H = +area.getAttribute("height");
    var full = ["x0", "x1", "y0", "y1"].map(function (k) { return +area.dataset[k]; });
    var view = full.slice();
    var cursor = area.querySelector("line.cursor");
    var cursorT = null;
    // Pixel of a value in the full range (the area's own coordinates).
    function fx(t) { return (t - full[0]) / (full[1] - full[0]) * W; }
    function fy(v) { return H - (v - full[2]) / (full[3] - full[2]) * H; }
    // Pixel of a value on screen (the outer SVG's coordinates) in the current view.
    function sx(t) { return X + (t - view[0]) / (view[1] - view[0]) * W; }
    function sy(v) { return Y + H - (v - view[2]) / (view[3] - view[2]) * H; }
    function draw() {
      area.setAttribute("viewBox", [fx(view[0]), fy(view[3]), fx(view[1]) - fx(view[0]), fy(view[2]) - fy(view[3])].join(" "));
      var xg = svg.querySelector("g.xticks"), yg = svg.querySelector("g.yticks");
      xg.textContent = ""; yg.textContent = "";
      ticks(view[0], view[1], 8).forEach(function (t) {
        var x = sx(t).toFixed(1);
        xg.appendChild(el("line", { x1: x, y1: Y, x2: x, y2: Y + H, stroke: "#eee" }));
        xg.appendChild(el("text", { x: x, y: Y + H + 16, "text-anchor": "middle" }, trim(t)));
      });
      ticks(view[2], view[3], 8).forEach(function (v) {
        var y = sy(v).toFixed(1);
        yg.appendChild(el("line", { x1: X, y1: y, x2: X + W, y2: y, stroke: "#eee" }));
        yg.appendChild(el("text", { x: X - 6, y: +y + 4, "text-anchor": "end" }, short(v)));
      });
      svg.querySelectorAll("path.mark-tick").forEach(function (m) {
        var t = +m.dataset.t;
        var inside = t >= view[0] && t <= view[1];
        m.setAttribute("visibility", inside ? "visible" : "hidden");
        m.setAttribute("transform", "translate(" + sx(t).toFixed(1) + " 0)");
      });
      if (cursorT !== null) {
        var c = fx(cursorT).toFixed(2);
        cursor.setAttribute("x1", c); cursor.setAttribute("x2", c);
        cursor.setAttribute("y1", fy(full[3])); cursor.setAttribute("y2", fy(full[2]));
        cursor.setAttribute("visibility", "visible");
      }
      svg.dataset.view = view.join(",");
    }
    function zoom(axis, factor, at) {
      var i = axis === "x" ? 0 : 2;
      var lo = view[i], hi = view[i + 1];
      if (at === undefined) at = (lo + hi) / 2;
      var span = Math.max((hi - lo) * factor, (full[i + 1] - full[i]) * 1e-6);
      var nlo = at - (at - lo) * span / (hi - lo);
      view[i] = nlo; view[i + 1] = nlo + span;
      draw();
    }
    function pan(axis, fraction) {
      var i = axis === "x" ? 0 : 2;
      var d = (view[i + 1] - view[i]) * fraction;
      view[i] += d; view[i + 1] += d;
      draw();
    }
    function valueAt(evt) {
      var r = area.getBoundingClientRect();
      var fxr = (evt.clientX - r.left) / r.width, fyr = (evt.clientY - r.top) / r.height;
      return [view[0] + fxr * (view[1] - view[0]), view[3] - fyr * (view[3] - view[2])];
    }
    svg.addEventListener("wheel", function (evt) {
      evt.preventDefault();
      var at = valueAt(evt);
      zoom(evt.shiftKey ? "y" : "x", evt.deltaY > 0 ? 1.25 : 0.8, evt.shiftKey ? at[1] : at[0]);
    }, { passive: false });
    var drag = null;
    svg.addEventListener("pointerdown", function (evt) {
      drag = { x: evt.clientX, y: evt.clientY, view: view.slice(), moved: false };
    });
    svg.addEventListener("pointermove", function (evt) {
      if (!drag) return;
      var r = area.getBoundingClientRect();
      var dx = (evt.clientX - drag.x) / r.width, dy = (evt.clientY - drag.y) / r.height;
      if (Math.abs(evt.clientX - drag.x) + Math.abs(evt.clientY - drag.y) > 4) drag.moved = true;
      if (!drag.moved) return;
      var sxn = drag.view[1] - drag.view[0], syn = drag.view[3] - drag.view[2];
      view = [drag.view[0] - dx * sxn, drag.view[1] - dx * sxn, drag.view[2] + dy * syn, drag.view[3] + dy * syn];
      draw();
    });
    svg.addEventListener("pointerup", function (evt) {
      var was = drag; drag = null;
      if (was && !was.moved && onPick) onPick(valueAt(evt)[0]);
    });
    svg.setAttribute("tabindex", "0");
    svg.addEventListener("keydown", function (evt) {
      var k = evt.key, used = true;
      if (k === "+" || k === "=") zoom("x", 0.8);
      else if (k === "-") zoom("x", 1.25);
      else if (k === "ArrowLeft") pan("x", -0.2);
      else if (k === "ArrowRight") pan("x", 0.2);
      else if (k === "ArrowUp") pan("y", 0.2);
      else if (k === "ArrowDown") pan("y", -0.2);
      else if (k === "0") { view = full.slice(); draw(); }
      else used = false;
      if (used) { evt.preventDefault(); evt.stopPropagation(); }
    });
    draw();
    return {
      setCursor: function (t) {
        cursorT = t;
        var inside = t !== null && t >= full[0] && t <= full[1];
        if (inside && (t < view[0] || t > view[1])) {
          var span = view[1] - view[0];
          view[0] = t - span / 2; view[1] = t + span / 2;
        }
        draw();
      },
      zoom: zoom,
      pan: pan,
      reset: function () { view = full.slice(); draw(); },
      view: function () { return view.slice(); },
    };
  }
  return { attach: attach };
})();
