// Finance section: documents (create, poll progress, download, e-mail), reports, notification
// settings and the operator's payment form, over the Finance JSON API.
// No inline script (CSP); server text goes into the page through textContent only.
(function () {
  "use strict";
  var root = document.getElementById("finance");
  if (!root) { return; }
  var account = root.getAttribute("data-account");
  var operator = root.getAttribute("data-operator") === "yes";
  var token = (document.querySelector('meta[name="xsrf-token"]') || {}).content || "";
  var t = function (name) { return root.getAttribute("data-" + name) || ""; };

  function url(path, params) {
    var q = new URLSearchParams(params || {});
    if (operator) { q.set("account_id", account); }
    var s = q.toString();
    return path + (s ? (path.indexOf("?") < 0 ? "?" : "&") + s : "");
  }

  function api(method, path, body, params) {
    var opts = { method: method, credentials: "same-origin", headers: { "Accept": "application/json" } };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.headers["X-XSRFToken"] = token;
      opts.body = JSON.stringify(body);
    }
    return fetch(url(path, params), opts).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) { var e = new Error((data.error || {}).message || r.statusText); e.fields = (data.error || {}).fields || {}; throw e; }
        return data;
      });
    });
  }

  function status(form, text, isError) {
    var p = form.querySelector(".fin-status");
    if (p) { p.textContent = text || ""; p.classList.toggle("error", !!isError); }
  }

  function showError(form, err) {
    form.querySelectorAll("[aria-invalid]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
    var parts = [err.message];
    Object.keys(err.fields || {}).forEach(function (name) {
      var el = form.querySelector('[name="' + name + '"]');
      if (el) { el.setAttribute("aria-invalid", "true"); }
      parts.push(err.fields[name]);
    });
    status(form, parts.join(" "), true);
  }

  function values(form) {
    var out = {};
    new FormData(form).forEach(function (v, k) { out[k] = v; });
    return out;
  }

  function cell(tr, text, cls) {
    var td = document.createElement("td");
    if (cls) { td.className = cls; }
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }

  function rub(kop) {
    var neg = kop < 0; kop = Math.abs(kop);
    var r = Math.floor(kop / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, "\u00a0");
    return (neg ? "-" : "") + r + "," + ("0" + (kop % 100)).slice(-2);
  }

  // ---- documents list
  var docsForm = root.querySelector('form[data-action="list"]');
  function docActions(td, d) {
    if (d.status !== "ready") { return; }
    var a = document.createElement("a");
    a.href = url(d.download_url);
    a.textContent = t("download");
    a.className = "btn";
    td.appendChild(a);
    var b = document.createElement("button");
    b.type = "button"; b.className = "btn btn-ghost"; b.textContent = t("email");
    b.addEventListener("click", function () {
      var to = window.prompt(t("email-prompt"));
      if (!to) { return; }
      api("POST", "/api/v1/finance/documents/" + d.id + "/email", { to: to })
        .then(function () { status(docsForm, t("sent")); })
        .catch(function (err) { showError(docsForm, err); });
    });
    td.appendChild(b);
  }
  function loadDocs() {
    if (!docsForm) { return Promise.resolve(); }  // the top-up page has no documents list
    var v = values(docsForm);
    return api("GET", "/api/v1/finance/documents", undefined, { since: v.since, until: v.until })
      .then(function (data) {
        var body = document.querySelector("#fin-docs tbody");
        body.textContent = "";
        data.items.forEach(function (d) {
          var tr = document.createElement("tr");
          cell(tr, d.created_local || "");  // the account's time, as every page shows it
          // Russian documents carry a Russian title that already names the kind
          var ru = document.documentElement.lang === "ru";
          var name = d.title ? (ru ? d.title : d.kind_title + " — " + d.title) : d.kind_title;
          var td = cell(tr, d.status === "ready" ? "" : name);
          if (d.status === "ready") {  // clicking a document's name downloads it
            var link = document.createElement("a");
            link.href = url(d.download_url); link.textContent = name;
            td.appendChild(link);
          }
          cell(tr, (d.format || "").toUpperCase());
          cell(tr, d.status_title + (d.status === "rendering" ? " " + d.progress + "%" : "") + (d.error ? ": " + d.error : ""));
          docActions(cell(tr, "", "fin-actions"), d);
          body.appendChild(tr);
        });
        status(docsForm, data.items.length ? "" : t("empty"));
      })
      .catch(function (err) { showError(docsForm, err); });
  }
  if (docsForm) { docsForm.addEventListener("submit", function (e) { e.preventDefault(); loadDocs(); }); }
  // «Clear» returns a period picker to its default (the custom period the page opened with)
  root.querySelectorAll('button[data-role="clear"]').forEach(function (btn) {
    btn.addEventListener("click", function () {
      var form = btn.form;
      ["since", "until"].forEach(function (n) { if (form.elements[n]) { form.elements[n].value = form.elements[n].defaultValue; } });
      if (form.elements.preset) { form.elements.preset.value = ""; }
      status(form, "");
    });
  });

  // ---- creating a document and following its progress
  function follow(form, doc) {
    var bar = form.querySelector("progress");
    if (bar) { bar.hidden = false; bar.value = doc.progress || 0; }
    function poll() {
      api("GET", "/api/v1/finance/documents/" + doc.id).then(function (d) {
        if (bar) { bar.value = d.progress || 0; }
        if (d.status === "ready") {
          if (bar) { bar.hidden = true; }
          status(form, t("ready"));
          var a = document.createElement("a");
          a.href = url(d.download_url); a.textContent = " " + t("download") + " " + (d.filename || "");
          form.querySelector(".fin-status").appendChild(a);
          loadDocs();
        } else if (d.status === "failed") {
          if (bar) { bar.hidden = true; }
          status(form, t("failed") + ": " + (d.error || ""), true);
          loadDocs();
        } else {
          status(form, d.status_title + (d.progress ? " " + d.progress + "%" : ""));
          window.setTimeout(poll, 1000);
        }
      }).catch(function (err) { showError(form, err); });
    }
    status(form, t("generating"));
    window.setTimeout(poll, 500);
  }
  function createDocument(form, body) {
    return api("POST", "/api/v1/finance/documents", body)
      .then(function (doc) { follow(form, doc); })
      .catch(function (err) { showError(form, err); });
  }
  root.querySelectorAll('form[data-action="document"]').forEach(function (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var v = values(form);
      var body = { kind: form.getAttribute("data-kind") };
      if (body.kind === "invoice") { body.amount = v.amount; body.with_vat = v.with_vat !== "false"; }
      else if (body.kind === "receipt") {
        body.amount = v.amount; body.payer_name = v.payer_name; body.payer_address = v.payer_address;
        body.pay_date = v.pay_date;
      } else { body.since = v.since; body.until = v.until; if (v.format) { body.format = v.format; } }
      createDocument(form, body);
    });
  });

  // ---- reports (table on the page, export as a document)
  // expenses filters: one PBX only by destinations (by months covers every PBX of the account)
  function reportFilters(v, out) {
    if (v.by) { out.by = v.by; }
    if (v.pbx_id) { out.pbx_id = v.pbx_id; }
    if (v.zone) { out.zone = v.zone; }
    return out;
  }
  var expBy = root.querySelector('#exp-by'), expPbx = root.querySelector('#exp-pbx');
  if (expBy && expPbx) {
    var syncPbx = function () {
      expPbx.disabled = expBy.value !== "destinations";
      if (expPbx.disabled) { expPbx.value = ""; }
    };
    expBy.addEventListener("change", syncPbx);
    syncPbx();
  }
  root.querySelectorAll('form[data-action="report"]').forEach(function (form) {
    var report = form.getAttribute("data-report");
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var v = values(form);
      var params = v.preset ? { preset: v.preset } : { since: v.since, until: v.until };
      reportFilters(v, params);
      api("GET", "/api/v1/finance/" + report, undefined, params).then(function (data) {
        var body = document.querySelector("#fin-" + report + " tbody");
        body.textContent = "";
        data.items.forEach(function (it) {
          var tr = document.createElement("tr");
          if (report === "expenses") {
            cell(tr, it.label); cell(tr, String(it.calls), "num"); cell(tr, String(it.duration), "num");
            cell(tr, rub(it.calls_cost), "num"); cell(tr, rub(it.fees), "num"); cell(tr, rub(it.total), "num");
          } else {
            cell(tr, it.at_local || ""); cell(tr, rub(it.amount), "num");  // the account's time
            cell(tr, it.key); cell(tr, it.comment);
          }
          body.appendChild(tr);
        });
        if (data.since && form.elements.since) {  // a preset: show the dates it stands for
          form.elements.since.value = data.since.split("-").reverse().join(".");
          form.elements.until.value = data.until.split("-").reverse().join(".");
        }
        status(form, "");
      }).catch(function (err) { showError(form, err); });
    });
    form.querySelectorAll("button[data-export]").forEach(function (btn) {
      btn.addEventListener("click", function () {
        var v = values(form);
        var body = reportFilters(v, { kind: report, since: v.since, until: v.until, format: btn.getAttribute("data-export") });
        createDocument(form, body);
      });
    });
  });

  // ---- notification settings (inventory A §2.7)
  var ntf = root.querySelector('form[data-action="notifications"]');
  if (ntf) {
    var blocks = ["low_balance", "block", "credit"];
    var field = function (b, n) { return ntf.elements[b + "." + n]; };
    var threshold = ntf.elements["low_balance.threshold"];
    // «calculate automatically»: the amount is last week's spend, shown in the disabled field
    var syncMode = function () {
      var mode = ntf.querySelector('input[name="low_balance.mode"]:checked');
      var auto = !!mode && mode.value === "auto";
      if (auto && !threshold.disabled) { threshold.setAttribute("data-manual", threshold.value); }
      if (!auto && threshold.disabled) { threshold.value = threshold.getAttribute("data-manual") || "100,00"; }
      threshold.disabled = auto;
    };
    // a block switched on with no address cannot be saved: Save is disabled, with the reason
    var syncSave = function () {
      var missing = blocks.some(function (b) {
        return field(b, "enabled").checked && !field(b, "emails").value.trim() && !field(b, "phones").value.trim();
      });
      ntf.querySelector('button[type="submit"]').disabled = missing;
      ntf.querySelector('[data-role="need-address"]').hidden = !missing;
    };
    // the last value entered is suggested in a similar empty field
    var suggest = function () {
      ["emails", "phones"].forEach(function (kind) {
        var list = document.getElementById("fin-" + kind + "-seen");
        var seen = {};
        list.textContent = "";
        blocks.forEach(function (b) {
          var v = field(b, kind).value.trim();
          if (v && !seen[v]) { seen[v] = true; var o = document.createElement("option"); o.value = v; list.appendChild(o); }
        });
      });
    };
    // «Cancel» returns to the last saved state: remember it after each save
    var remember = function () {
      Array.prototype.forEach.call(ntf.elements, function (el) {
        if (el.type === "checkbox" || el.type === "radio") { el.defaultChecked = el.checked; }
        else if (el.tagName === "SELECT") { Array.prototype.forEach.call(el.options, function (o) { o.defaultSelected = o.selected; }); }
        else if ("defaultValue" in el) { el.defaultValue = el.value; }
      });
      threshold.setAttribute("data-saved-manual", threshold.getAttribute("data-manual") || "");
    };
    var refresh = function () { syncMode(); syncSave(); suggest(); };
    ntf.addEventListener("input", refresh);
    ntf.addEventListener("change", refresh);
    ntf.querySelector('[data-role="cancel"]').addEventListener("click", function () {
      ntf.reset();
      threshold.setAttribute("data-manual", threshold.getAttribute("data-saved-manual") || threshold.getAttribute("data-manual") || "");
      var mode = ntf.querySelector('input[name="low_balance.mode"]:checked');
      threshold.disabled = !!mode && mode.value === "auto";  // as saved: no re-capture of the amount
      refresh();
      status(ntf, "");
    });
    remember();
    refresh();
    ntf.addEventListener("submit", function (e) {
      e.preventDefault();
      var body = { language: ntf.elements.language.value };
      blocks.forEach(function (b) {
        body[b] = { enabled: field(b, "enabled").checked, emails: field(b, "emails").value, phones: field(b, "phones").value };
      });
      var mode = ntf.querySelector('input[name="low_balance.mode"]:checked');
      body.low_balance.mode = mode ? mode.value : "manual";
      body.low_balance.threshold = threshold.disabled ? (threshold.getAttribute("data-manual") || "") : threshold.value;
      body.low_balance.attach_invoice = ntf.elements["low_balance.attach_invoice"].checked;
      body.low_balance.invoice_amount = ntf.elements["low_balance.invoice_amount"].value;
      api("PUT", "/api/v1/finance/notifications", body)
        .then(function (saved) {
          var lb = saved.low_balance || {};
          threshold.setAttribute("data-manual", lb.threshold || "");
          if (lb.mode === "auto" && lb.computed_threshold !== null && lb.computed_threshold !== undefined) {
            threshold.value = lb.computed_threshold;
          }
          remember();
          status(ntf, t("saved"));
        })
        .catch(function (err) { showError(ntf, err); });
    });
  }

  // ---- operator: record a payment
  var pay = root.querySelector('form[data-action="payment"]');
  if (pay) {
    pay.addEventListener("submit", function (e) {
      e.preventDefault();
      var v = values(pay);
      api("POST", "/api/v1/accounts/" + account + "/payments", { amount: v.amount, key: v.key || null, comment: v.comment || "" })
        .then(function (r) {
          status(pay, t("recorded"));
          document.getElementById("fin-balance").textContent = rub(r.balance) + " \u20bd";
        })
        .catch(function (err) { showError(pay, err); });
    });
  }

  loadDocs();
})();
