// Telephony pages: comfort on top of plain forms (everything also works without JavaScript).
// - row tables: add a row from the hidden template row, remove a row, move a row up/down
//   (the "Order" inputs are renumbered, the server sorts by them);
// - kind-dependent cells (contact method type, group member kind) show only what applies;
// - the SIP password generator; copying a secret shown once;
// - the new-employee wizard shown one step at a time;
// - live status pills refreshed from a small JSON page;
// - forms that ask for confirmation first.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  var counter = 0;

  function rowsOf(tbody) {
    return Array.prototype.filter.call(tbody.children, function (tr) {
      return tr.classList.contains("row") && !tr.classList.contains("no-js-only");
    });
  }

  function renumber(table) {
    var tbody = table.tBodies[0];
    rowsOf(tbody).forEach(function (tr, i) {
      var pos = tr.querySelector("td.pos input");
      if (pos) { pos.value = String(i + 1); }
    });
  }

  function errorRowOf(tr) {
    var next = tr.nextElementSibling;
    return next && next.classList.contains("row-errors") ? next : null;
  }

  function syncKinds(tr) {
    var sel = tr.querySelector("select[data-kind-switch]");
    if (!sel) { return; }
    tr.querySelectorAll("[data-kind]").forEach(function (el) {
      var kinds = el.getAttribute("data-kind").split(" ");
      el.hidden = kinds.indexOf(sel.value) < 0;
    });
  }

  function wireRow(tr) {
    var table = tr.closest("table");
    var remove = tr.querySelector(".row-tools .remove");
    if (remove) {
      remove.addEventListener("click", function () {
        var err = errorRowOf(tr);
        if (err) { err.remove(); }
        tr.remove();
        renumber(table);
      });
    }
    var up = tr.querySelector(".row-tools .up");
    if (up) {
      up.addEventListener("click", function () {
        var rows = rowsOf(tr.parentNode);
        var i = rows.indexOf(tr);
        if (i > 0) {
          var err = errorRowOf(tr);
          tr.parentNode.insertBefore(tr, rows[i - 1]);
          if (err) { tr.parentNode.insertBefore(err, tr.nextSibling); }
          renumber(table);
          up.focus();
        }
      });
    }
    var down = tr.querySelector(".row-tools .down");
    if (down) {
      down.addEventListener("click", function () {
        var rows = rowsOf(tr.parentNode);
        var i = rows.indexOf(tr);
        if (i >= 0 && i < rows.length - 1) {
          var after = errorRowOf(rows[i + 1]) || rows[i + 1];
          var err = errorRowOf(tr);
          tr.parentNode.insertBefore(tr, after.nextSibling);
          if (err) { tr.parentNode.insertBefore(err, tr.nextSibling); }
          renumber(table);
          down.focus();
        }
      });
    }
    var sw = tr.querySelector("select[data-kind-switch]");
    if (sw) {
      sw.addEventListener("change", function () { syncKinds(tr); });
      syncKinds(tr);
    }
  }

  document.querySelectorAll("table.rows tr.row").forEach(wireRow);

  document.querySelectorAll("[data-add-row]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var table = document.getElementById(btn.getAttribute("data-add-row"));
      var tpl = table && table.querySelector("tr.template-row");
      if (!tpl) { return; }
      counter += 1;
      var key = "n" + counter;
      var tr = tpl.cloneNode(true);
      tr.classList.remove("template-row");
      tr.classList.add("row");
      tr.querySelectorAll("[name]").forEach(function (el) {
        el.name = el.name.replace("__i__", key);
        el.disabled = false;
      });
      tr.querySelectorAll("[id]").forEach(function (el) { el.id = el.id.replace("__i__", key); });
      var last = rowsOf(tpl.parentNode).pop();
      var anchor = last ? (errorRowOf(last) || last) : null;
      tpl.parentNode.insertBefore(tr, anchor ? anchor.nextSibling : tpl.parentNode.firstChild);
      wireRow(tr);
      renumber(table);
      var first = tr.querySelector("input:not([type=hidden]), select");
      if (first) { first.focus(); }
    });
  });

  // a random SIP password: 16 Latin letters and digits, with a digit, a lower- and an upper-case letter
  function randomPassword() {
    var lower = "abcdefghijkmnopqrstuvwxyz", upper = "ABCDEFGHJKLMNPQRSTUVWXYZ", digits = "23456789";
    var all = lower + upper + digits;
    var buf = new Uint32Array(16);
    window.crypto.getRandomValues(buf);
    var out = [lower[buf[0] % lower.length], upper[buf[1] % upper.length], digits[buf[2] % digits.length]];
    for (var i = 3; i < 16; i++) { out.push(all[buf[i] % all.length]); }
    for (var j = out.length - 1; j > 0; j--) {
      var k = buf[j] % (j + 1);
      var t = out[j]; out[j] = out[k]; out[k] = t;
    }
    return out.join("");
  }
  document.querySelectorAll("[data-generate]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var input = document.getElementById(btn.getAttribute("data-generate"));
      if (!input) { return; }
      input.value = randomPassword();
      input.type = "text";
      input.focus();
    });
  });

  document.querySelectorAll("[data-copy]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var input = document.getElementById(btn.getAttribute("data-copy"));
      if (!input) { return; }
      input.select();
      var done = function () { btn.textContent = btn.getAttribute("data-copied") || btn.textContent; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
      } else {
        document.execCommand("copy");
        done();
      }
    });
  });

  // the wizard: one step at a time; a step with an error from the server opens first
  document.querySelectorAll("form.wizard").forEach(function (form) {
    var steps = Array.prototype.slice.call(form.querySelectorAll(".step"));
    var marks = Array.prototype.slice.call(document.querySelectorAll(".steps li"));
    if (!steps.length) { return; }
    var current = 0;
    steps.forEach(function (s, i) { if (current === 0 && s.classList.contains("has-error")) { current = i; } });
    function show(i) {
      current = Math.max(0, Math.min(steps.length - 1, i));
      steps.forEach(function (s, n) { s.classList.toggle("current", n === current); });
      marks.forEach(function (m, n) { m.classList.toggle("current", n === current); });
      var focus = steps[current].querySelector("input:not([type=hidden]):not([disabled]), select");
      if (focus) { focus.focus(); }
    }
    form.querySelectorAll("[data-step]").forEach(function (btn) {
      btn.addEventListener("click", function () { show(current + Number(btn.getAttribute("data-step"))); });
    });
    show(current);
  });

  // show the SIP step's fields only when a SIP account is wanted, the number only for forwarding
  document.querySelectorAll("[data-toggle-target]").forEach(function (ctrl) {
    var targets = document.querySelectorAll(ctrl.getAttribute("data-toggle-target"));
    function sync() {
      var on;
      if (ctrl.type === "checkbox") { on = ctrl.checked; } else {
        var picked = document.querySelector('input[name="' + ctrl.name + '"]:checked');
        on = picked && picked.value === ctrl.getAttribute("data-toggle-value");
      }
      targets.forEach(function (t) { t.hidden = !on; });
    }
    document.querySelectorAll('input[name="' + ctrl.name + '"]').forEach(function (el) {
      el.addEventListener("change", sync);
    });
    sync();
  });

  // live status pills (active SIP numbers, trunks)
  document.querySelectorAll("[data-status-url]").forEach(function (box) {
    var url = box.getAttribute("data-status-url");
    var every = Number(box.getAttribute("data-status-every") || "10000");
    function refresh() {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data) { return; }
          Object.keys(data).forEach(function (id) {
            var pill = box.querySelector('[data-status-id="' + id + '"]');
            if (pill && data[id]) {
              pill.className = "pill " + data[id].css;
              pill.textContent = data[id].text;
            }
          });
        })
        .catch(function () { /* offline for a moment: the next round tries again */ });
    }
    window.setInterval(refresh, every);
  });

  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (ev) {
      if (!window.confirm(f.getAttribute("data-confirm"))) { ev.preventDefault(); }
    });
  });
})();
