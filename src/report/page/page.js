// report.html: sorts, filters and pages the tables' rows (all of them are in the HTML, so
// the page reads the same without this script), and copies a policy's JSON.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function sortValue(row, index, numeric) {
    var cell = row.cells[index];
    if (!cell) { return numeric ? -Infinity : ""; }
    var v = cell.getAttribute("data-sort");
    if (v === null) { v = cell.textContent; }
    if (numeric) { var n = Number(v); return isNaN(n) ? -Infinity : n; }
    return v.trim().toLowerCase();
  }

  function setUp(table) {
    var block = table.closest(".table-block");
    var body = table.tBodies[0];
    var all = Array.prototype.slice.call(body.rows);
    var size = Number(table.getAttribute("data-page-size")) || all.length || 1;
    var state = { rows: all, visible: all, page: 0 };
    var filter = block.querySelector("input.filter");
    var selects = Array.prototype.slice.call(block.querySelectorAll("select.column-filter"));
    var pager = block.querySelector(".pager");
    var prev = document.createElement("button");
    var next = document.createElement("button");
    var where = document.createElement("span");
    prev.type = next.type = "button";
    prev.textContent = "Previous";
    next.textContent = "Next";
    pager.appendChild(where);
    pager.appendChild(prev);
    pager.appendChild(next);

    function show() {
      var pages = Math.max(1, Math.ceil(state.visible.length / size));
      state.page = Math.min(state.page, pages - 1);
      var from = state.page * size;
      var to = Math.min(from + size, state.visible.length);
      all.forEach(function (r) { r.hidden = true; });
      for (var i = from; i < to; i++) { state.visible[i].hidden = false; }
      var filtered = state.visible.length < all.length ? " (filtered from " + all.length + ")" : "";
      where.textContent = state.visible.length === 0 ? "No row matches" + filtered :
        "Rows " + (from + 1) + "-" + to + " of " + state.visible.length + filtered;
      prev.disabled = state.page === 0;
      next.disabled = state.page >= pages - 1;
    }

    function apply() {
      var q = filter ? filter.value.trim().toLowerCase() : "";
      var wanted = selects.filter(function (s) { return s.value !== ""; }).map(function (s) {
        return [Number(s.getAttribute("data-column")), s.value.toLowerCase()];
      });
      state.visible = state.rows.filter(function (r) {
        if (q && r.textContent.toLowerCase().indexOf(q) < 0) { return false; }
        return wanted.every(function (w) { return sortValue(r, w[0], false) === w[1]; });
      });
      state.page = 0;
      show();
    }

    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, index) {
      th.addEventListener("click", function () {
        var numeric = th.classList.contains("num");
        var descending = th.getAttribute("aria-sort") !== "descending";
        Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) { c.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", descending ? "descending" : "ascending");
        var keyed = state.rows.map(function (r, i) { return [sortValue(r, index, numeric), i, r]; });
        keyed.sort(function (a, b) {
          if (a[0] < b[0]) { return descending ? 1 : -1; }
          if (a[0] > b[0]) { return descending ? -1 : 1; }
          return a[1] - b[1];
        });
        state.rows = keyed.map(function (k) { return k[2]; });
        var fragment = document.createDocumentFragment();
        state.rows.forEach(function (r) { fragment.appendChild(r); });
        body.appendChild(fragment);
        apply();
      });
    });
    if (filter) { filter.addEventListener("input", apply); }
    selects.forEach(function (s) { s.addEventListener("change", apply); });
    prev.addEventListener("click", function () { state.page -= 1; show(); });
    next.addEventListener("click", function () { state.page += 1; show(); });
    show();
  }

  Array.prototype.forEach.call(document.querySelectorAll(".table-block table.data"), setUp);

  Array.prototype.forEach.call(document.querySelectorAll("button.copy"), function (button) {
    button.addEventListener("click", function (event) {
      event.preventDefault();
      var text = document.getElementById(button.getAttribute("data-copy")).textContent;
      function done(ok) {
        button.textContent = ok ? "Copied" : "Select and copy the text below";
        setTimeout(function () { button.textContent = "Copy JSON"; }, 2000);
      }
      function fallback() {
        var area = document.createElement("textarea");
        area.value = text;
        document.body.appendChild(area);
        area.select();
        var ok = false;
        try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
        document.body.removeChild(area);
        done(ok);
      }
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () { done(true); }, fallback);
      } else {
        fallback();
      }
    });
  });
})();
