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
          cell(tr, (d.created_at || "").replace("T", " ").slice(0, 16));
          // Russian documents carry a Russian title that already names the kind
          var ru = document.documentElement.lang === "ru";
          cell(tr, d.title ? (ru ? d.title : d.kind_title + " — " + d.title) : d.kind_title);
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
            cell(tr, (it.at || "").replace("T", " ").slice(0, 16)); cell(tr, rub(it.amount), "num");
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

  // ---- notification settings
  var ntf = root.querySelector('form[data-action="notifications"]');
  if (ntf) {
    ntf.addEventListener("submit", function (e) {
      e.preventDefault();
      var body = { language: ntf.elements.language.value };
      ["low_balance", "block", "credit"].forEach(function (b) {
        var g = function (n) { return ntf.elements[b + "." + n]; };
        body[b] = { enabled: g("enabled").checked, emails: g("emails").value, phones: g("phones").value };
      });
      var mode = ntf.querySelector('input[name="low_balance.mode"]:checked');
      body.low_balance.mode = mode ? mode.value : "manual";
      body.low_balance.threshold = ntf.elements["low_balance.threshold"].value;
      body.low_balance.attach_invoice = ntf.elements["low_balance.attach_invoice"].checked;
      body.low_balance.invoice_amount = ntf.elements["low_balance.invoice_amount"].value;
      api("PUT", "/api/v1/finance/notifications", body)
        .then(function () { status(ntf, t("saved")); })
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
