// Live FreeSWITCH node states: polls the JSON API and updates the table in place.
// No inline script (CSP); text goes in through textContent only.
(function () {
  "use strict";
  var table = document.getElementById("nodes-table");
  if (!table) { return; }
  var src = table.getAttribute("data-src");
  var interval = parseInt(table.getAttribute("data-interval"), 10) || 5000;
  var updated = document.getElementById("nodes-updated");
  var lang = document.documentElement.lang || "en";
  var tz = table.getAttribute("data-tz") || undefined;

  // the same format the server renders: 22.11.2026 06:40:05 (ru) or 2026-11-22 06:40:05 (en),
  // in the user's time zone
  function fmt(iso, timeOnly) {
    if (!iso) { return "\u2014"; }
    var parts = {};
    new Intl.DateTimeFormat("en-GB", {
      timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit"
    }).formatToParts(new Date(iso)).forEach(function (p) { parts[p.type] = p.value; });
    var time = parts.hour + ":" + parts.minute + ":" + parts.second;
    if (timeOnly) { return time; }
    var date = lang === "ru" ? parts.day + "." + parts.month + "." + parts.year
                             : parts.year + "-" + parts.month + "-" + parts.day;
    return date + " " + time;
  }

  function cell(text, cls) {
    var td = document.createElement("td");
    if (cls) { td.className = cls; }
    td.textContent = text;
    return td;
  }

  function row(n) {
    var tr = document.createElement("tr");
    tr.setAttribute("data-node", n.name);
    var name = document.createElement("td");
    var link = document.createElement("a");
    link.href = "/operator/nodes/" + encodeURIComponent(n.name);
    var strong = document.createElement("strong");
    strong.textContent = n.name;
    link.appendChild(strong);
    name.appendChild(link);
    tr.appendChild(name);
    tr.appendChild(cell((n.host || "") + (n.port ? ":" + n.port : ""), "mono"));
    var st = document.createElement("td");
    var pill = document.createElement("span");
    pill.className = "pill state-" + n.state;
    var dot = document.createElement("span");
    dot.className = "dot";
    dot.setAttribute("aria-hidden", "true");
    pill.appendChild(dot);
    pill.appendChild(document.createTextNode(n.state_label));
    st.appendChild(pill);
    tr.appendChild(st);
    var since = cell(fmt(n.since));
    tr.appendChild(since);
    tr.appendChild(cell(n.reconnects === null || n.reconnects === undefined ? "\u2014" : String(n.reconnects), "num"));
    tr.appendChild(cell(n.error || "", "error-text"));
    return tr;
  }

  function refresh() {
    fetch(src, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) {
        if (r.status === 401) { window.location.assign("/login?next=/nodes"); throw new Error("signed out"); }
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      })
      .then(function (data) {
        var body = table.tBodies[0];
        var fresh = document.createElement("tbody");
        data.items.forEach(function (n) { fresh.appendChild(row(n)); });
        table.replaceChild(fresh, body);
        if (updated) { updated.textContent = table.getAttribute("data-label-updated") + " " + fmt(new Date().toISOString(), true); }
      })
      .catch(function () {
        if (updated) { updated.textContent = table.getAttribute("data-label-failed"); }
      })
      .then(function () { window.setTimeout(refresh, interval); });
  }
  window.setTimeout(refresh, interval);
}());
