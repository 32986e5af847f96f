// Access pages: fill a new role from its base role, copy a new API key, confirm destructive forms.
(function () {
  "use strict";

  // Roles editor: choosing the base role fills every section's level and reach with its defaults.
  var form = document.getElementById("role-form");
  var base = document.getElementById("base");
  if (form && base && form.dataset.bases) {
    var bases = JSON.parse(form.dataset.bases);
    base.addEventListener("change", function () {
      var grants = bases[base.value] || {};
      Object.keys(grants).forEach(function (section) {
        var level = form.querySelector('select[name="level.' + section + '"]');
        var reach = form.querySelector('select[name="reach.' + section + '"]');
        if (level) { level.value = grants[section][0]; }
        if (reach) { reach.value = grants[section][1]; }
      });
    });
  }

  // Roles editor: a reach only matters while the section is open.
  function syncReach(level) {
    var row = level.closest("tr");
    var reach = row && row.querySelector(".reach-select");
    if (reach) { reach.disabled = level.value === "none"; }
  }
  document.querySelectorAll(".level-select").forEach(function (level) {
    syncReach(level);
    level.addEventListener("change", function () { syncReach(level); });
  });
  if (form) {
    // disabled selects are not sent; the server then keeps the base role's reach
    form.addEventListener("submit", function () {
      form.querySelectorAll(".reach-select").forEach(function (r) { r.disabled = false; });
    });
  }

  // API keys: copy the secret shown once.
  var copy = document.getElementById("copy-secret");
  var secret = document.getElementById("secret-value");
  if (copy && secret) {
    copy.addEventListener("click", function () {
      secret.select();
      var done = function () { copy.textContent = copy.dataset.copied; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(secret.value).then(done, function () { document.execCommand("copy"); done(); });
      } else {
        document.execCommand("copy");
        done();
      }
    });
    secret.addEventListener("focus", function () { secret.select(); });
  }

  // Revoke / delete: ask first.
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (ev) {
      if (!window.confirm(f.dataset.confirm)) { ev.preventDefault(); }
    });
  });
})();
