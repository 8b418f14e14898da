(function () {
  'use strict';
  // Statistics views: one per (task or all tasks, protocol, quantity); the page's task and protocol filters and the
  // quantity selector choose which show. "All tasks" shows the pooled views; a task shows that task's views.
  var fTask = document.getElementById('f-task'), fProto = document.getElementById('f-protocol');
  var fQty = document.getElementById('f-quantity');
  if (!fQty) return;
  function apply() {
    var t = fTask ? fTask.value : '', p = fProto ? fProto.value : '', q = fQty.value, shown = 0;
    Array.prototype.forEach.call(document.querySelectorAll('section.stats-view'), function (s) {
      var show = s.getAttribute('data-stats-task') === t && s.getAttribute('data-stats-quantity') === q &&
        (!p || s.getAttribute('data-stats-protocol') === p);
      s.hidden = !show;
      if (show) shown++;
    });
    var none = document.getElementById('stats-none');
    if (none) none.hidden = shown > 0;
  }
  [fTask, fProto, fQty].forEach(function (el) { if (el) el.addEventListener('change', apply); });
  apply();
})();
