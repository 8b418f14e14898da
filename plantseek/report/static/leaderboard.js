(function () {
  'use strict';
  function cellValue(row, col, type) {
    var c = row.cells[col];
    if (!c) return null;
    var v = c.getAttribute('data-v');
    if (v === null) v = c.textContent.trim();
    if (v === '') return null;
    if (type === 'num') { var x = parseFloat(v); return isFinite(x) ? x : null; }
    return v.toLowerCase();
  }
  function sortBy(table, th) {
    var col = parseInt(th.getAttribute('data-col'), 10);
    var type = th.getAttribute('data-type') || 'num';
    var cur = th.getAttribute('aria-sort');
    var dir = cur === 'ascending' ? 'descending' : cur === 'descending' ? 'ascending'
      : (th.getAttribute('data-first') || (type === 'num' ? 'descending' : 'ascending'));
    Array.prototype.forEach.call(table.querySelectorAll('th[aria-sort]'), function (h) { h.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', dir);
    var sign = dir === 'ascending' ? 1 : -1;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var va = cellValue(a, col, type), vb = cellValue(b, col, type);
      if (va === null && vb === null) return 0;
      if (va === null) return 1;
      if (vb === null) return -1;
      if (type === 'num') return sign * (va - vb);
      return sign * va.localeCompare(vb);
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), function (table) {
    Array.prototype.forEach.call(table.querySelectorAll('th[data-col]'), function (th) {
      th.tabIndex = 0;
      if (!th.title) th.title = 'sort by this column';
      th.addEventListener('click', function () { sortBy(table, th); });
      th.addEventListener('keydown', function (e) { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sortBy(table, th); } });
    });
  });
  var fTask = document.getElementById('f-task'), fProto = document.getElementById('f-protocol');
  var fFam = document.getElementById('f-family');
  function otherFamily(el, f) {  // false where the element names no family (e.g. a ranking row)
    var fam = el.getAttribute('data-family');
    return !!f && fam !== null && fam !== f;
  }
  function apply() {
    var f = fFam.value;
    // a family shows only its tasks in the Task filter; a chosen task of another family is cleared
    Array.prototype.forEach.call(fTask.options, function (o) { o.hidden = !!o.value && otherFamily(o, f); });
    if (fTask.selectedOptions.length && fTask.selectedOptions[0].hidden) fTask.value = '';
    var t = fTask.value, p = fProto.value;
    Array.prototype.forEach.call(document.querySelectorAll('section[data-task]'), function (s) {
      s.hidden = (!!t && s.getAttribute('data-task') !== t) || otherFamily(s, f);
    });
    var shown = 0, total = 0;
    Array.prototype.forEach.call(document.querySelectorAll('tbody tr[data-protocol]'), function (r) {
      var task = r.getAttribute('data-task');
      var hide = (!!p && r.getAttribute('data-protocol') !== p) || (!!t && task !== null && task !== t) ||
        otherFamily(r, f);
      r.hidden = hide;
      if (r.closest('#all-results')) { total++; if (!hide) shown++; }
    });
    var n = document.getElementById('shown');
    if (n) n.textContent = shown + ' of ' + total + ' rows shown';
  }
  fTask.addEventListener('change', apply);
  fProto.addEventListener('change', apply);
  fFam.addEventListener('change', apply);
  apply();
})();

(function () {
  'use strict';
  // Statistics views: one per (task or all tasks of a family, protocol, quantity); the page's family, task and
  // protocol filters and the quantity selector choose which show. "All tasks" shows the pooled views (of the chosen
  // family, or of every family); a task shows that task's views.
  var fTask = document.getElementById('f-task'), fProto = document.getElementById('f-protocol');
  var fFam = document.getElementById('f-family'), fQty = document.getElementById('f-quantity');
  if (!fQty) return;
  function apply() {
    var t = fTask ? fTask.value : '', p = fProto ? fProto.value : '', q = fQty.value, shown = 0;
    var f = fFam ? fFam.value : '';
    Array.prototype.forEach.call(document.querySelectorAll('section.stats-view'), function (s) {
      // a task shows its own view, or the pooled view of a group of settings that holds that task alone
      var task = s.getAttribute('data-stats-task');
      var mine = t ? task === t || (task === '' && s.getAttribute('data-stats-covers') === t)
        : task === '' && (!f || s.getAttribute('data-stats-family') === f);
      var show = mine && s.getAttribute('data-stats-quantity') === q && (!p || s.getAttribute('data-stats-protocol') === p);
      s.hidden = !show;
      if (show) shown++;
    });
    var none = document.getElementById('stats-none');
    if (none) none.hidden = shown > 0;
  }
  [fTask, fProto, fFam, fQty].forEach(function (el) { if (el) el.addEventListener('change', apply); });
  apply();
})();
