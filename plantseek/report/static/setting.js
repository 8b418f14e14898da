(function () {
  'use strict';
  // A setting's charts: recall and weak metric vs density (log axis), one line per method with its 95 % interval as
  // whiskers, drawn as SVG from the JSON embedded in the page. The methods picked by default are ticked; a reader
  // ticks any other in. Names are set as text, never parsed as HTML.
  var NS = document.getElementById('chart-recall').namespaceURI;  // the SVG namespace, from the page's own <svg>
  var data = JSON.parse(document.getElementById('chart-data').textContent);
  var W = 560, H = 320, L = 52, R = 12, T = 12, B = 40;
  function el(name, attrs, parent) {
    var e = document.createElementNS(NS, name);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(e);
    return e;
  }
  var xs = data.x.map(function (x) { return x === null ? null : Math.log10(Math.max(x, 1e-6)); });
  var fx = xs.filter(function (x) { return x !== null; });
  var x0 = Math.min.apply(null, fx), x1 = Math.max.apply(null, fx);
  if (x1 - x0 < 1e-9) { x0 -= 0.5; x1 += 0.5; }
  var pad = (x1 - x0) * 0.06; x0 -= pad; x1 += pad;
  function px(i) { return L + (xs[i] - x0) / (x1 - x0) * (W - L - R); }
  function draw(svg, q, picked) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var lo = Infinity, hi = -Infinity;
    data.series.forEach(function (s) {
      if (!picked[s.method]) return;
      s[q].forEach(function (p) { [p[0], p[1], p[2]].forEach(function (v) { if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); } }); });
    });
    if (!isFinite(lo)) { lo = 0; hi = 1; }
    if (hi - lo < 1e-12) { lo -= 0.5; hi += 0.5; }
    var yp = (hi - lo) * 0.05; lo -= yp; hi += yp;
    function py(v) { return T + (hi - v) / (hi - lo) * (H - T - B); }
    el('line', {x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: '#888'}, svg);
    el('line', {x1: L, y1: T, x2: L, y2: H - B, stroke: '#888'}, svg);
    data.x.forEach(function (x, i) {
      if (x === null) return;
      var t = el('text', {x: px(i), y: H - B + 16, 'text-anchor': 'middle', 'font-size': 11}, svg);
      t.textContent = data.labels[i];
    });
    for (var k = 0; k <= 4; k++) {
      var v = lo + (hi - lo) * k / 4;
      el('line', {x1: L - 4, y1: py(v), x2: L, y2: py(v), stroke: '#888'}, svg);
      var t = el('text', {x: L - 6, y: py(v) + 4, 'text-anchor': 'end', 'font-size': 11}, svg);
      t.textContent = v.toPrecision(3);
    }
    var xl = el('text', {x: (L + W - R) / 2, y: H - 6, 'text-anchor': 'middle', 'font-size': 11}, svg);
    xl.textContent = 'density (fraction of weights kept)';
    data.series.forEach(function (s) {
      if (!picked[s.method]) return;
      var g = el('g', {'class': 'series', 'data-method': s.method, stroke: s.colour, fill: s.colour}, svg);
      var title = el('title', {}, g); title.textContent = s.method;
      var pts = [];
      s[q].forEach(function (p, i) {
        if (p[0] === null || xs[i] === null) return;
        pts.push(px(i).toFixed(1) + ',' + py(p[0]).toFixed(1));
        if (p[1] !== null) el('line', {x1: px(i), x2: px(i), y1: py(p[1]), y2: py(p[2]), 'stroke-width': 1}, g);
        el('circle', {cx: px(i), cy: py(p[0]), r: 3}, g);
      });
      el('polyline', {points: pts.join(' '), fill: 'none', 'stroke-width': 1.6}, g);
    });
  }
  var picked = {};
  data.shown.forEach(function (m) { picked[m] = true; });
  var box = document.getElementById('picks');
  function redraw() {
    draw(document.getElementById('chart-recall'), 'recall', picked);
    draw(document.getElementById('chart-weak'), 'weak_metric', picked);
    document.getElementById('n-shown').textContent = Object.keys(picked).filter(function (m) { return picked[m]; }).length + ' of ' + data.series.length;
  }
  data.series.forEach(function (s) {
    var lab = document.createElement('label');
    var cb = document.createElement('input');
    cb.type = 'checkbox'; cb.checked = !!picked[s.method]; cb.value = s.method;
    cb.addEventListener('change', function () { picked[s.method] = cb.checked; redraw(); });
    var sw = document.createElement('span'); sw.textContent = '■ '; sw.style.color = s.colour;
    lab.appendChild(cb); lab.appendChild(sw); lab.appendChild(document.createTextNode(s.method));
    box.appendChild(lab);
  });
  redraw();
})();
