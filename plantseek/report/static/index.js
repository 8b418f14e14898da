(function () {
  'use strict';
  // The index: the filters choose the answers (family, task, density; a protocol shows the answers within that
  // protocol, "all protocols" the answers over all) and which precomputed overall ranking shows (a task's, else a
  // family's, else all tasks'). Row hiding by protocol inside a ranking is leaderboard.js's.
  var fFam = document.getElementById('f-family'), fTask = document.getElementById('f-task');
  var fDen = document.getElementById('f-density'), fProto = document.getElementById('f-protocol');
  function apply() {
    var f = fFam.value, t = fTask.value, dn = fDen.value, p = fProto.value, shown = 0;
    Array.prototype.forEach.call(document.querySelectorAll('#answers tbody tr'), function (r) {
      var show = r.getAttribute('data-view') === p && (!f || r.getAttribute('data-family') === f) &&
        (!t || r.getAttribute('data-task') === t) && (!dn || r.getAttribute('data-density') === dn);
      r.hidden = !show;
      if (show) shown++;
    });
    document.getElementById('answers-none').hidden = shown > 0;
    var boxes = document.querySelectorAll('div.ranking'), pick = null, all = null;
    Array.prototype.forEach.call(boxes, function (b) {
      var bf = b.getAttribute('data-scope-family'), bt = b.getAttribute('data-scope-task');
      if (!bf && !bt) all = b;
      if (t ? bt === t : (f && !bt && bf === f)) pick = b;
    });
    pick = pick || all;
    Array.prototype.forEach.call(boxes, function (b) { b.hidden = b !== pick; });
    if (pick) document.getElementById('ranking-scope').textContent = pick.getAttribute('data-title');
    Array.prototype.forEach.call(document.querySelectorAll('ul.settings li'), function (li) {
      li.hidden = !!t && li.getAttribute('data-task') !== t;
    });
  }
  [fFam, fTask, fDen, fProto].forEach(function (el) { el.addEventListener('change', apply); });
  apply();
})();
