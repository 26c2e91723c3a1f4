// Applies the saved theme before the first paint, so a dark-theme user never sees a
// white flash. A classic script, because it must run before the stylesheet applies.
(function () {
  try {
    var t = localStorage.getItem('yw.theme');
    if (t === 'light' || t === 'dark') document.documentElement.dataset.theme = t;
  } catch (e) { /* storage may be disabled; the system preference still applies */ }
})();
